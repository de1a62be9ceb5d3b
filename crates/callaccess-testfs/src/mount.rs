//! The handle of one mounted [`TestFs`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;

use fuser::{BackgroundSession, Config, MountOption};

use crate::fs::{is_empty_folder, Shared, State, TestFilesystem};

/// A mounted test file system; unmounted when dropped.
pub struct TestFs {
    session: Option<BackgroundSession>,
    state: Shared,
    mountpoint: PathBuf,
}

impl TestFs {
    /// Mounts a file system over the empty folder `mountpoint` that shows
    /// the folder `backing`, and whose durable contents are `backing`'s.
    /// Nothing else may change `backing` while it is mounted.
    pub fn mount(backing: &Path, mountpoint: &Path) -> io::Result<TestFs> {
        if !is_empty_folder(mountpoint)? {
            return Err(io::Error::other(format!(
                "the mountpoint {} is not empty",
                mountpoint.display()
            )));
        }
        let state = State::new(backing.canonicalize()?);
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("callaccess-testfs".to_owned()),
            MountOption::Subtype("callaccess-testfs".to_owned()),
            // The kernel checks the permission bits, as on a real disk, so
            // a test can run a server as an unprivileged user.
            MountOption::DefaultPermissions,
        ];
        let filesystem = TestFilesystem {
            state: state.clone(),
        };
        let session = fuser::spawn_mount(filesystem, mountpoint, &config)?;
        Ok(TestFs {
            session: Some(session),
            state,
            mountpoint: mountpoint.to_owned(),
        })
    }

    /// Cuts the power: every write not yet fsync'd and every file created
    /// since the last fsync of its folder is lost, and every further
    /// operation fails with EIO until unmounted. Mount the backing folder
    /// again to see what the disk kept.
    pub fn power_cut(&self) {
        self.state().power_cut();
    }

    /// Makes every write and fsync fail with EIO (a device that fails I/O;
    /// reads keep working), or, with `false`, work again.
    pub fn fail_io(&self, on: bool) {
        self.state().faults.fail_io = on;
    }

    /// Makes every write fail with EROFS (a file system that turned
    /// read-only), or, with `false`, work again.
    pub fn read_only(&self, on: bool) {
        self.state().faults.read_only = on;
    }

    /// Unmounts, and waits until the file system has stopped serving.
    pub fn unmount(mut self) -> io::Result<()> {
        self.unmount_now()
    }

    fn unmount_now(&mut self) -> io::Result<()> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        session.umount_and_join().inspect_err(|_| {
            // Something still holds a file open (a server a failing test did
            // not stop): detach, so the mountpoint is free at least.
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.mountpoint)
                .status();
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for TestFs {
    fn drop(&mut self) {
        let _ = self.unmount_now();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;

    use super::*;

    /// A backing folder and an empty mountpoint in one temporary folder.
    fn folders() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("disk");
        let mountpoint = dir.path().join("mnt");
        std::fs::create_dir(&backing).unwrap();
        std::fs::create_dir(&mountpoint).unwrap();
        (dir, backing, mountpoint)
    }

    /// Mounts, or fails the test with the reason; `CALLACCESS_SKIP_FUSE=1`
    /// turns that into a skip, for machines without FUSE.
    fn mount(backing: &Path, mountpoint: &Path) -> Option<TestFs> {
        match TestFs::mount(backing, mountpoint) {
            Ok(fs) => Some(fs),
            Err(e) if std::env::var_os("CALLACCESS_SKIP_FUSE").is_some_and(|v| v == "1") => {
                println!("SKIPPED (CALLACCESS_SKIP_FUSE=1): cannot mount FUSE: {e}");
                None
            }
            Err(e) => panic!("cannot mount FUSE (set CALLACCESS_SKIP_FUSE=1 to skip): {e}"),
        }
    }

    #[test]
    fn through_the_kernel_synced_data_survives_a_power_cut_and_the_rest_does_not() {
        let (_dir, backing, mountpoint) = folders();
        let Some(fs) = mount(&backing, &mountpoint) else {
            return;
        };
        let mut kept = std::fs::File::create(mountpoint.join("kept")).unwrap();
        kept.write_all(b"durable").unwrap();
        kept.sync_all().unwrap();
        std::fs::File::open(&mountpoint)
            .unwrap()
            .sync_all()
            .unwrap();
        kept.write_all(b" and then some").unwrap();
        let mut fresh = std::fs::File::create(mountpoint.join("fresh")).unwrap();
        fresh.write_all(b"never synced").unwrap();
        fresh.sync_all().unwrap();
        assert_eq!(
            std::fs::read(mountpoint.join("kept")).unwrap(),
            b"durable and then some"
        );

        fs.power_cut();
        let error = std::fs::read(mountpoint.join("kept")).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EIO), "{error}");
        drop((kept, fresh));
        fs.unmount().unwrap();

        // The file synced but not its folder's entry is gone; the other
        // keeps what was synced.
        let fs = mount(&backing, &mountpoint).unwrap();
        assert_eq!(std::fs::read(mountpoint.join("kept")).unwrap(), b"durable");
        assert!(!mountpoint.join("fresh").exists());
        drop(fs);
        assert!(is_empty_folder(&mountpoint).unwrap());
    }

    #[test]
    fn a_failing_or_read_only_device_refuses_writes_keeps_reads_and_recovers() {
        let (_dir, backing, mountpoint) = folders();
        std::fs::write(backing.join("file"), b"old").unwrap();
        let Some(fs) = mount(&backing, &mountpoint) else {
            return;
        };
        let path = mountpoint.join("file");
        for (set, errno) in [
            (TestFs::fail_io as fn(&TestFs, bool), libc::EIO),
            (TestFs::read_only, libc::EROFS),
        ] {
            set(&fs, true);
            let mut file = std::fs::OpenOptions::new().read(true).open(&path).unwrap();
            assert_eq!(std::io::Read::bytes(&mut file).count(), 3);
            let error = std::fs::write(&path, b"new").unwrap_err();
            assert_eq!(error.raw_os_error(), Some(errno), "{error}");
            set(&fs, false);
            std::fs::write(&path, b"new").unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"new");
            std::fs::write(&path, b"old").unwrap();
        }
    }
}
