-- The whole access model of callaccess.
--
-- Every entity below a company is keyed by (company_id, id): Gong's call and
-- user ids are only unique within a workspace, and putting company_id first
-- in every key means each lookup is already scoped to the caller's company.
-- Tables whose rows are small and always reached through their key are
-- WITHOUT ROWID, so the primary key index is the table itself.
--
-- Times are unix seconds (UTC) so that expiry checks compare integers.

CREATE TABLE companies (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL,
    -- Rate limits: NULL defers to the server's configured default, 0 turns
    -- the limit off, N allows at most N requests in the window.
    per_second_limit  INTEGER CHECK (per_second_limit IS NULL OR per_second_limit >= 0),
    per_day_limit     INTEGER CHECK (per_day_limit IS NULL OR per_day_limit >= 0),
    created_at        INTEGER NOT NULL
);

CREATE TABLE api_keys (
    access_key     TEXT    NOT NULL PRIMARY KEY,
    company_id     INTEGER NOT NULL REFERENCES companies (id),
    -- SHA-256 of the secret; the secret itself is shown once and never kept.
    secret_digest  BLOB    NOT NULL CHECK (length(secret_digest) = 32),
    -- NULL: full access, like Gong's own API keys. Otherwise the allowed
    -- scopes, separated by single spaces (a scope never contains a space).
    scopes         TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    -- Set once; revoking again keeps the first time for the audit trail.
    revoked_at     INTEGER
) WITHOUT ROWID;

CREATE TABLE tokens (
    -- Public handle for listing and revoking: the first 8 bytes of the
    -- digest in hex, so it names the token without revealing it.
    id          TEXT    NOT NULL PRIMARY KEY,
    -- SHA-256 of the bearer token; requests are authenticated by looking the
    -- digest of the presented token up here.
    digest      BLOB    NOT NULL UNIQUE CHECK (length(digest) = 32),
    company_id  INTEGER NOT NULL REFERENCES companies (id),
    -- Granted scopes separated by single spaces; a token always has an
    -- explicit list, possibly empty.
    scopes      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
) WITHOUT ROWID;

CREATE TABLE users (
    company_id    INTEGER NOT NULL REFERENCES companies (id),
    id            INTEGER NOT NULL,
    email         TEXT    NOT NULL,
    -- The permission profile's call access (route 3 of the contract):
    -- 'all' opens every call of the company, 'own' the calls where the user
    -- is the primary user or a participant.
    calls_access  TEXT    NOT NULL DEFAULT 'none' CHECK (calls_access IN ('all', 'own', 'none')),
    PRIMARY KEY (company_id, id)
) WITHOUT ROWID;

CREATE TABLE calls (
    company_id       INTEGER NOT NULL REFERENCES companies (id),
    id               INTEGER NOT NULL,
    title            TEXT,
    -- The call's owner; an 'own' profile opens the call for this user.
    primary_user_id  INTEGER NOT NULL,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, primary_user_id) REFERENCES users (company_id, id)
) WITHOUT ROWID;

-- Users who took part in a call; an 'own' profile opens the call for them.
CREATE TABLE call_participants (
    company_id  INTEGER NOT NULL,
    call_id     INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    PRIMARY KEY (company_id, call_id, user_id),
    FOREIGN KEY (company_id, call_id) REFERENCES calls (company_id, id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
) WITHOUT ROWID;

-- The three routes to a call live in separate tables (contract §2) so that
-- DELETE can remove API grants without touching shares or profiles, and POST
-- can list API grants alone.

-- Route 2: calls shared with a user by the admin tools.
CREATE TABLE shares (
    company_id  INTEGER NOT NULL,
    call_id     INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (company_id, call_id, user_id),
    FOREIGN KEY (company_id, call_id) REFERENCES calls (company_id, id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
) WITHOUT ROWID;

-- Route 1: grants recorded by PUT and removed by DELETE. The primary key is
-- also the index of the hot path: POST reads one call's grants ordered by
-- user, and PUT/DELETE touch single (call, user) pairs.
CREATE TABLE api_grants (
    company_id  INTEGER NOT NULL,
    call_id     INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    -- When the first PUT recorded the grant; granting again keeps it.
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (company_id, call_id, user_id),
    FOREIGN KEY (company_id, call_id) REFERENCES calls (company_id, id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
) WITHOUT ROWID;

-- Listing a company's credentials is an admin task over a handful of rows, so
-- these are the only secondary indexes besides the unique token digest.
-- Users and calls are never deleted, so the foreign keys pointing at them
-- need no index on the referencing side.
CREATE INDEX api_keys_by_company ON api_keys (company_id, created_at);
CREATE INDEX tokens_by_company ON tokens (company_id, created_at);

-- Rate-limit budgets shared by every server on this database: the GCRA
-- "theoretical arrival time" of each company's per-second and per-day
-- budget, in microseconds since the epoch. One row per (company, budget);
-- a request is admitted when the budget, refilled up to now, has room.
CREATE TABLE rate_limit_state (
    company_id  INTEGER NOT NULL REFERENCES companies (id),
    budget      TEXT    NOT NULL CHECK (budget IN ('second', 'day')),
    tat         INTEGER NOT NULL,
    PRIMARY KEY (company_id, budget)
) WITHOUT ROWID;

-- A count of changes to anything a verified credential depends on: keys,
-- tokens and company rate limits. The server keeps verified credentials for
-- a moment and reads this one row on every request; a change committed by
-- any process (`callaccess key revoke` runs in its own) moves the count, so
-- a revoked key is refused on the next request. New keys and tokens need
-- no count: only successful checks are kept.
CREATE TABLE credential_changes (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    count  INTEGER NOT NULL
);
INSERT INTO credential_changes (id, count) VALUES (1, 0);

CREATE TRIGGER api_keys_changed AFTER UPDATE ON api_keys
BEGIN UPDATE credential_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_removed AFTER DELETE ON api_keys
BEGIN UPDATE credential_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER tokens_changed AFTER UPDATE ON tokens
BEGIN UPDATE credential_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER tokens_removed AFTER DELETE ON tokens
BEGIN UPDATE credential_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER company_limits_changed AFTER UPDATE OF per_second_limit, per_day_limit ON companies
BEGIN UPDATE credential_changes SET count = count + 1 WHERE id = 1; END;
