-- The admin API's credentials (control-plane.md §1). They belong to no
-- company, so nothing refers to them and a reset of the data keeps them.
-- They do not move the credential_changes count: the admin API never keeps
-- a verified token, it reads the row on every request, so a revocation
-- through any node is seen by every node at once.
CREATE TABLE admin_tokens (
    -- The public part of the token text `caadm_<id>_<secret>`: 16 random
    -- hex digits, listed and revoked by.
    id          TEXT     NOT NULL PRIMARY KEY,
    -- SHA-256 of the secret part; the secret itself is never stored.
    digest      BYTEA    NOT NULL CHECK (octet_length(digest) = 32),
    -- GET and HEAD only.
    read_only   BOOLEAN  NOT NULL,
    -- The operator's own words about the token, if any.
    note        TEXT,
    -- Unix seconds.
    created_at  BIGINT   NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
