-- One row that readiness rewrites while writes are failing.
--
-- After a full or failing disk, only a write that reached the disk shows
-- the fault cured; a transaction that writes nothing would pass on a disk
-- that is still full. While writes fail, `/readyz` rewrites this row, so a
-- node out of rotation (which clients no longer reach) still learns when
-- it may take writes again.
CREATE TABLE storage_probe (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    -- When readiness last rewrote the row (Unix seconds).
    probed_at  INTEGER NOT NULL
);
