//! A FUSE file system for tests of durability and storage faults: it passes
//! every operation through to a backing folder, but keeps what no fsync has
//! made durable in memory, as a machine's page cache does (the idea of
//! LazyFS), so that a test can cut the power and see what a real disk would
//! still hold. Test tooling only; never published.
//!
//! - `mount`: [`TestFs`], the handle a test holds: mount over an empty
//!   folder, cut the power, make the device fail I/O or turn read-only,
//!   unmount (also on drop).
//! - `fs`: the file system fuser serves, and the faults it obeys.
//! - `overlay`: the unsynced contents of one file, merged over the backing
//!   file for readers, written into it by fsync, dropped by a power cut.
//!
//! Mounting needs `/dev/fuse`. As root fuser calls mount(2) itself (no
//! libfuse is linked); where that is refused it falls back on fuse3's
//! setuid `fusermount3`.

mod fs;
mod mount;
mod overlay;

pub use mount::TestFs;
