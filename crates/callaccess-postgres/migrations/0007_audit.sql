-- The audit trail (control-plane.md §7, §9): one row per changed row of
-- who can open a call, and of the credentials that reach the API, recorded
-- in the same transaction as the change. The same columns and meanings as
-- the SQLite backend's 0007_audit.sql.

-- Where sequence numbers come from. CACHE 1 (the default, stated because
-- it matters): a session that cached a block of values would hand out
-- numbers out of the order in which they were drawn, and the reasoning of
-- `changes_after` (src/audit.rs) needs "drawn earlier" to mean "smaller".
-- A sequence never goes back, so a number is never reused, not after a
-- reset nor after pruning.
CREATE SEQUENCE audit_seq AS BIGINT CACHE 1 NO CYCLE;

CREATE TABLE audit_entries (
    -- From audit_seq, drawn by the recording statement after the
    -- transaction's own data write (so it has its xid first; see
    -- src/audit.rs).
    seq         BIGINT PRIMARY KEY,
    -- Unix seconds, by the store's clock (the manual clock in tests).
    at          BIGINT NOT NULL,
    -- NULL for what belongs to no company (admin tokens, a whole reset).
    -- No foreign keys: entries outlive the rows they tell of.
    company_id  BIGINT,
    -- apiKey:<accessKey>, token:<id>, admin:<token id>, cli or seed.
    actor       TEXT   NOT NULL,
    request_id  TEXT,
    -- The action's API name (grant.add, …).
    action      TEXT   NOT NULL,
    call_id     BIGINT,
    user_id     BIGINT,
    -- JSON text, as NewEntry's before/after.
    before      TEXT,
    after       TEXT
);
-- Pages by company, company and call, company and user: the listing's
-- filters, each walked in seq order from the cursor.
CREATE INDEX audit_by_company ON audit_entries (company_id, seq);
CREATE INDEX audit_by_call ON audit_entries (company_id, call_id, seq);
CREATE INDEX audit_by_user ON audit_entries (company_id, user_id, seq);
-- No index on `at`: a listing by time finds where the times start by a
-- binary search over `seq` (src/audit.rs, FIRST_AT), as entries are
-- recorded in time order in practice; every index here is one more write
-- for each entry, which is what auditing costs a PUT.

-- Entries are never changed: retention and resets delete them, nothing
-- updates one. The one procedural piece of the schema (see
-- 0001_initial.sql on why the rest is plain DDL): a database that refuses
-- it can do without, as callaccess itself never updates the table.
CREATE FUNCTION audit_entries_refuse_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are never changed'
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER audit_entries_immutable
    BEFORE UPDATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_update();

-- The credentials whose expired use was recorded (apiKey.expired,
-- token.expired), so that it is recorded once. Not a column of the
-- credential rows: changing those would move the credentials epoch and
-- drop every node's verified credentials.
CREATE TABLE audit_expired_noted (
    -- The credential's company, so that a reset of it forgets its notes.
    company_id  BIGINT NOT NULL,
    -- 'apiKey' or 'token'.
    kind        TEXT   NOT NULL,
    -- The access key or the token id.
    handle      TEXT   NOT NULL,
    PRIMARY KEY (kind, handle)
);
