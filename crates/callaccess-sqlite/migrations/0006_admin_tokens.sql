-- The admin API's credentials (control-plane.md §1). They belong to no
-- company, so nothing refers to them and a reset of the data keeps them.
-- No trigger counts their changes: the admin API never keeps a verified
-- token, it reads the row on every request, so a revocation is seen at once.
CREATE TABLE admin_tokens (
    -- The public part of the token text `caadm_<id>_<secret>`: 16 random
    -- hex digits, listed and revoked by.
    id          TEXT    NOT NULL PRIMARY KEY,
    -- SHA-256 of the secret part; the secret itself is never stored.
    digest      BLOB    NOT NULL CHECK (length(digest) = 32),
    -- 1: GET and HEAD only.
    read_only   INTEGER NOT NULL CHECK (read_only IN (0, 1)),
    -- The operator's own words about the token, if any.
    note        TEXT,
    -- Unix seconds.
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
