-- API grants keep no foreign keys.
--
-- Every write of a grant checks, in the same transaction, that its call and
-- its user exist in the company (PUT: contract §3; a seed: its reference
-- checks), and calls and users are never deleted. The two foreign keys
-- made SQLite probe `calls` and `users` again for every inserted row: a
-- fifth of the writer's time on 1,000-pair PUTs (docs/PERFORMANCE.md).
--
-- SQLite cannot drop a constraint, so the table is rebuilt in key order.
-- This runs once; on a 2-core machine a file with 1,000,000 grants took
-- 0.4 s. The old pages stay free in the file for later grants.
CREATE TABLE api_grants_new (
    company_id  INTEGER NOT NULL,
    call_id     INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    -- When the first PUT recorded the grant; granting again keeps it.
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (company_id, call_id, user_id)
) WITHOUT ROWID;

INSERT INTO api_grants_new (company_id, call_id, user_id, granted_at)
SELECT company_id, call_id, user_id, granted_at FROM api_grants
ORDER BY company_id, call_id, user_id;

DROP TABLE api_grants;
ALTER TABLE api_grants_new RENAME TO api_grants;
