//! Mounting `callaccess-testfs` (a FUSE file system that can cut the power
//! or fail the device) for a test, or saying why not.

use std::path::{Path, PathBuf};

use callaccess_testfs::TestFs;

/// A backing folder (the "disk") and an empty mountpoint in `dir`.
pub(crate) fn folders(dir: &Path) -> (PathBuf, PathBuf) {
    let backing = dir.join("disk");
    let mountpoint = dir.join("mnt");
    std::fs::create_dir(&backing).unwrap();
    std::fs::create_dir(&mountpoint).unwrap();
    (backing, mountpoint)
}

/// Mounts `backing` over `mountpoint`. Where FUSE cannot be mounted the
/// test fails with the reason, unless `CALLACCESS_SKIP_FUSE=1` says that this
/// machine has no FUSE: then `None`, and the test skips, saying why.
pub(crate) fn mount(backing: &Path, mountpoint: &Path) -> Option<TestFs> {
    match TestFs::mount(backing, mountpoint) {
        Ok(fs) => Some(fs),
        Err(e) if std::env::var_os("CALLACCESS_SKIP_FUSE").is_some_and(|v| v == "1") => {
            println!("SKIPPED (CALLACCESS_SKIP_FUSE=1): cannot mount FUSE: {e}");
            None
        }
        Err(e) => panic!(
            "cannot mount FUSE (needs /dev/fuse and root; set CALLACCESS_SKIP_FUSE=1 to skip): {e}"
        ),
    }
}

/// Mounts again what was mounted once already: failing is a defect then.
pub(crate) fn remount(backing: &Path, mountpoint: &Path) -> TestFs {
    TestFs::mount(backing, mountpoint).expect("mounting the test file system again")
}
