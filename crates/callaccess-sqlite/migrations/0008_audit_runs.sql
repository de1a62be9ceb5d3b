-- The audit trail's lookups by call and by user, kept in runs rather than
-- in two indexes of audit_entries (see src/audit_runs.rs).
--
-- An index on (company_id, call_id, seq) takes each new entry into a leaf
-- of its call, somewhere in the middle of the tree: every committed batch
-- then rewrote, in the write-ahead log and again at the checkpoint, one
-- page of each index per entry, for entries a few dozen bytes long. That
-- doubled what a PUT of one pair cost (docs/PERFORMANCE.md).
--
-- A run instead covers a range of sequence numbers and holds their keys
-- sorted by call or user: it is written once, in key order, at the end of
-- its table, a few pages for thousands of entries. The newest entries not
-- yet in a run (the tail) are read by sequence number. Entries recorded
-- before this version are that tail until the writer has put them in runs.
DROP INDEX audit_entries_by_call;
DROP INDEX audit_entries_by_user;

CREATE TABLE audit_runs (
    -- Numbered in the order written; the keys of a run are grouped under it.
    id          INTEGER PRIMARY KEY,
    -- The range of sequence numbers the run covers, both ends included:
    -- runs never overlap, and together they cover every number from the
    -- first run's start up to the last run's end, gaps included.
    first_seq   INTEGER NOT NULL UNIQUE,
    last_seq    INTEGER NOT NULL,
    -- 0: written from the tail; 1: several level-0 runs merged.
    level       INTEGER NOT NULL
);
CREATE INDEX audit_runs_by_level ON audit_runs (level, first_seq);

CREATE TABLE audit_run_keys (
    run         INTEGER NOT NULL,
    -- 0: the keys are of the entries' calls; 1: of their users.
    kind        INTEGER NOT NULL CHECK (kind IN (0, 1)),
    -- The first key of the row: the call's or user's id, and the entry.
    id          INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    -- This key and the next ones of the run in (id, seq) order, up to 48,
    -- 16 bytes each (id and seq, big-endian): a run's keys take one row
    -- insert per 48, and a row stays within its page.
    keys        BLOB    NOT NULL,
    PRIMARY KEY (run, kind, id, seq)
) WITHOUT ROWID;
