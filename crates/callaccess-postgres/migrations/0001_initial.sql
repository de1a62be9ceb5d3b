-- The whole access model of callaccess, PostgreSQL edition.
--
-- The same tables, columns and meanings as the SQLite backend's
-- 0001_initial.sql, so both answer alike; only the types are PostgreSQL's.
--
-- Every entity below a company is keyed by (company_id, id): Gong's call and
-- user ids are only unique within a workspace, and putting company_id first
-- in every key means each lookup is already scoped to the caller's company.
--
-- Ids are BIGINT: the contract's ids are 1..9223372036854775807, exactly the
-- positive range of a signed 64-bit integer. Times are unix seconds (UTC) so
-- that expiry checks compare integers, as in the SQLite schema.
--
-- Only plain DDL is used (no extensions, no procedural code, no triggers),
-- so that PostgreSQL-compatible distributed databases have a chance to accept
-- it; see docs/SCALING.md for what has and has not been checked.

CREATE TABLE companies (
    id                BIGINT PRIMARY KEY,
    name              TEXT   NOT NULL,
    -- Rate limits: NULL defers to the server's configured default, 0 turns
    -- the limit off, N allows at most N requests in the window.
    per_second_limit  BIGINT CHECK (per_second_limit IS NULL OR per_second_limit >= 0),
    per_day_limit     BIGINT CHECK (per_day_limit IS NULL OR per_day_limit >= 0),
    created_at        BIGINT NOT NULL
);

CREATE TABLE api_keys (
    access_key     TEXT   NOT NULL PRIMARY KEY,
    company_id     BIGINT NOT NULL REFERENCES companies (id),
    -- SHA-256 of the secret; the secret itself is shown once and never kept.
    secret_digest  BYTEA  NOT NULL CHECK (octet_length(secret_digest) = 32),
    -- NULL: full access, like Gong's own API keys. Otherwise the allowed
    -- scopes, separated by single spaces (a scope never contains a space).
    scopes         TEXT,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    -- Set once; revoking again keeps the first time for the audit trail.
    revoked_at     BIGINT
);

CREATE TABLE tokens (
    -- Public handle for listing and revoking: the first 8 bytes of the
    -- digest in hex, so it names the token without revealing it.
    id          TEXT   NOT NULL PRIMARY KEY,
    -- SHA-256 of the bearer token; requests are authenticated by looking the
    -- digest of the presented token up here.
    digest      BYTEA  NOT NULL UNIQUE CHECK (octet_length(digest) = 32),
    company_id  BIGINT NOT NULL REFERENCES companies (id),
    -- Granted scopes separated by single spaces; a token always has an
    -- explicit list, possibly empty.
    scopes      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE users (
    company_id    BIGINT NOT NULL REFERENCES companies (id),
    id            BIGINT NOT NULL,
    email         TEXT   NOT NULL,
    -- The permission profile's call access (route 3 of the contract):
    -- 'all' opens every call of the company, 'own' the calls where the user
    -- is the primary user or a participant.
    calls_access  TEXT   NOT NULL DEFAULT 'none' CHECK (calls_access IN ('all', 'own', 'none')),
    PRIMARY KEY (company_id, id)
);

CREATE TABLE calls (
    company_id       BIGINT NOT NULL REFERENCES companies (id),
    id               BIGINT NOT NULL,
    title            TEXT,
    -- The call's owner; an 'own' profile opens the call for this user.
    primary_user_id  BIGINT NOT NULL,
    PRIMARY KEY (company_id, id),
    FOREIGN KEY (company_id, primary_user_id) REFERENCES users (company_id, id)
);

-- Users who took part in a call; an 'own' profile opens the call for them.
CREATE TABLE call_participants (
    company_id  BIGINT NOT NULL,
    call_id     BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    PRIMARY KEY (company_id, call_id, user_id),
    FOREIGN KEY (company_id, call_id) REFERENCES calls (company_id, id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
);

-- The three routes to a call live in separate tables (contract §2) so that
-- DELETE can remove API grants without touching shares or profiles, and POST
-- can list API grants alone.

-- Route 2: calls shared with a user by the admin tools.
CREATE TABLE shares (
    company_id  BIGINT NOT NULL,
    call_id     BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (company_id, call_id, user_id),
    FOREIGN KEY (company_id, call_id) REFERENCES calls (company_id, id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
);

-- Route 1: grants recorded by PUT and removed by DELETE. The primary key is
-- also the index of the hot path: POST reads one call's grants ordered by
-- user, and PUT/DELETE touch single (call, user) pairs.
CREATE TABLE api_grants (
    company_id  BIGINT NOT NULL,
    call_id     BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    -- When the first PUT recorded the grant; granting again keeps it.
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (company_id, call_id, user_id),
    FOREIGN KEY (company_id, call_id) REFERENCES calls (company_id, id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
);

-- Listing a company's credentials is an admin task over a handful of rows, so
-- these are the only secondary indexes besides the unique token digest.
-- Users and calls are never deleted, so the foreign keys pointing at them
-- need no index on the referencing side.
CREATE INDEX api_keys_by_company ON api_keys (company_id, created_at);
CREATE INDEX tokens_by_company ON tokens (company_id, created_at);

-- Rate-limit budgets shared by every server on this database: the GCRA
-- "theoretical arrival time" of each company's per-second and per-day
-- budget, in microseconds since the epoch of the DATABASE's clock (never a
-- node's, so nodes with skewed clocks still agree). One row per (company,
-- budget); a request is admitted when the budget, refilled up to now, has
-- room. Updated under a row lock, one request at a time per budget.
CREATE TABLE rate_limit_state (
    company_id  BIGINT NOT NULL REFERENCES companies (id),
    budget      TEXT   NOT NULL CHECK (budget IN ('second', 'day')),
    tat         BIGINT NOT NULL,
    PRIMARY KEY (company_id, budget)
);
