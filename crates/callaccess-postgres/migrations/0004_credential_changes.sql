-- A count of changes to credentials and company limits, so that nodes may
-- keep verified credentials.
--
-- Every transaction that changes a key, a token or a company's limits (a
-- revocation, new limits, a seed) adds one, in the same transaction. Each
-- API statement a node runs for a credential it kept reads the count in
-- the same statement and is refused if the count moved since the
-- credential was verified; so a revocation committed through any node, or
-- the CLI, is refused by every node on its next request, and a kept
-- credential costs no round trip of its own. Plain DDL and UPDATE, no
-- triggers (see 0001_initial.sql).
CREATE TABLE credential_changes (
    id     SMALLINT PRIMARY KEY CHECK (id = 1),
    count  BIGINT NOT NULL
);
INSERT INTO credential_changes (id, count) VALUES (1, 0);
