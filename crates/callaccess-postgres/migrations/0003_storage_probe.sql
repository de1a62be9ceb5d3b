-- Nothing to do on PostgreSQL.
--
-- On SQLite this version adds the row that readiness rewrites while writes
-- to the file fail. PostgreSQL reports a full or failing disk to each
-- statement, and readiness asks the server itself; the version is kept so
-- that both backends share one schema history.
SELECT 1;
