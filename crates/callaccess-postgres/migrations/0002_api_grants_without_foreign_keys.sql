-- API grants keep no foreign keys.
--
-- Every write of a grant checks, in the same transaction, that its call and
-- its user exist in the company (PUT: contract §3; a seed: its reference
-- checks), and calls and users are never deleted. The foreign keys made
-- every inserted row check and lock its parent rows in `calls` and `users`
-- (the same migration on SQLite, docs/PERFORMANCE.md).
DO $$
DECLARE
    constraint_name text;
BEGIN
    FOR constraint_name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'api_grants'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE api_grants DROP CONSTRAINT %I', constraint_name);
    END LOOP;
END
$$;
