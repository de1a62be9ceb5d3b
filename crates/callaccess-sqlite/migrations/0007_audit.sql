-- The audit trail (control-plane.md §7, §9): one row per changed row of
-- access or credentials, written in the transaction of the change.
CREATE TABLE audit_entries (
    -- AUTOINCREMENT, not a plain rowid: a number is never handed out
    -- twice, even after the newest entries were pruned or reset away. With
    -- the one writer thread (and SQLite's file lock for the CLI), numbers
    -- are taken in commit order, so a reader that saw `seq` has seen
    -- every entry before it.
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Unix seconds, by the store's clock. Entries are recorded in time
    -- order: the writer reads the clock as it runs each job, and the manual
    -- clock never goes back. `since` / `until` rely on it to find their
    -- bounds by seq (see src/audit.rs) instead of an index of their own.
    at          INTEGER NOT NULL,
    -- NULL for admin tokens and a reset of every company.
    company_id  INTEGER,
    -- `apiKey:<accessKey>`, `token:<id>`, `admin:<token id>`, `cli`, `seed`.
    actor       TEXT    NOT NULL,
    -- The HTTP request's id; NULL for the command line and seeds at start.
    request_id  TEXT,
    -- `grant.add`, … (the domain's `Action` names).
    action      TEXT    NOT NULL,
    call_id     INTEGER,
    user_id     INTEGER,
    -- JSON text of what changed, where the action has it.
    before      TEXT,
    after       TEXT
);

-- A page of one company's trail, of one call's or of one user's, newest or
-- oldest first, reads only the rows it answers.
CREATE INDEX audit_entries_by_company ON audit_entries (company_id, seq);
CREATE INDEX audit_entries_by_call ON audit_entries (company_id, call_id, seq);
CREATE INDEX audit_entries_by_user ON audit_entries (company_id, user_id, seq);

-- Entries are never changed. Deleting stays possible: retention and a
-- reset of the data remove them.
CREATE TRIGGER audit_entries_are_never_changed
BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit entries are never changed');
END;

-- The expired credentials whose use was recorded already, so that each is
-- recorded once. A table of its own, because marking the credential's row
-- would count as a change of credentials (the triggers of version 1) and
-- drop every cached credential.
CREATE TABLE audit_expired_noted (
    -- 'apiKey' (by access key) or 'token' (by token id).
    kind        TEXT    NOT NULL CHECK (kind IN ('apiKey', 'token')),
    credential  TEXT    NOT NULL,
    PRIMARY KEY (kind, credential)
) WITHOUT ROWID;
