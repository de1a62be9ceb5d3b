//! The FUSE file system: every operation passes through to the backing
//! folder, except that file contents and lengths go through an [`Overlay`]
//! until an fsync, and that the faults set in [`Faults`] refuse operations.
//!
//! Creating a file is written through at once, but a file created since the
//! last fsync of its folder is remembered, and a power cut removes it again.
//! Removals, renames and new folders are durable at once (not modelled).

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo,
    OpenAccMode, OpenFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow,
};

use crate::overlay::Overlay;

/// How long the kernel may keep names and attributes. Every change passes
/// through the kernel, which updates what it keeps, so caching is safe.
const TTL: Duration = Duration::from_secs(1);

/// The faults the test has switched on.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Faults {
    /// Every operation fails with EIO; set once, never cleared.
    pub(crate) power_cut: bool,
    /// Writes and syncs fail with EIO; reads work.
    pub(crate) fail_io: bool,
    /// Writes fail with EROFS; reads and syncs work.
    pub(crate) read_only: bool,
}

/// One file or folder the kernel knows by its inode number.
#[derive(Debug)]
struct Node {
    /// Relative to the backing folder; empty for its root.
    path: PathBuf,
    /// The backing file, opened on first use (regular files only).
    file: Option<File>,
    /// Unsynced contents, from the first write or truncation on.
    overlay: Option<Overlay>,
}

/// Everything behind the one lock: operations, faults and the power cut
/// are each atomic with respect to one another.
#[derive(Debug)]
pub(crate) struct State {
    root: PathBuf,
    nodes: HashMap<u64, Node>,
    inodes: HashMap<PathBuf, u64>,
    next_inode: u64,
    /// Files created since the last fsync of their folder.
    created: HashSet<u64>,
    pub(crate) faults: Faults,
}

pub(crate) type Shared = Arc<Mutex<State>>;

impl State {
    pub(crate) fn new(root: PathBuf) -> Shared {
        let mut nodes = HashMap::new();
        nodes.insert(
            INodeNo::ROOT.0,
            Node {
                path: PathBuf::new(),
                file: None,
                overlay: None,
            },
        );
        let inodes = HashMap::from([(PathBuf::new(), INodeNo::ROOT.0)]);
        Arc::new(Mutex::new(Self {
            root,
            nodes,
            inodes,
            next_inode: INodeNo::ROOT.0 + 1,
            created: HashSet::new(),
            faults: Faults::default(),
        }))
    }

    /// Cuts the power: unsynced contents and unsynced new files are gone,
    /// and every later operation fails.
    pub(crate) fn power_cut(&mut self) {
        self.faults.power_cut = true;
        for node in self.nodes.values_mut() {
            node.overlay = None;
        }
        for inode in std::mem::take(&mut self.created) {
            if let Some(node) = self.nodes.get(&inode) {
                let _ = std::fs::remove_file(self.root.join(&node.path));
            }
        }
    }

    /// Refuses every operation once the power is cut.
    fn alive(&self) -> Result<(), Errno> {
        refuse_if(self.faults.power_cut, Errno::EIO)
    }

    /// Refuses an fsync: a failing device fails it, a read-only one has
    /// nothing new to write.
    fn syncable(&self) -> Result<(), Errno> {
        self.alive()?;
        refuse_if(self.faults.fail_io, Errno::EIO)
    }

    /// Refuses an operation that changes the disk.
    fn writable(&self) -> Result<(), Errno> {
        self.syncable()?;
        refuse_if(self.faults.read_only, Errno::EROFS)
    }

    fn node(&mut self, inode: INodeNo) -> Result<&mut Node, Errno> {
        self.nodes.get_mut(&inode.0).ok_or(Errno::ENOENT)
    }

    fn backing_path(&self, inode: INodeNo) -> Result<PathBuf, Errno> {
        let node = self.nodes.get(&inode.0).ok_or(Errno::ENOENT)?;
        Ok(self.root.join(&node.path))
    }

    fn child_path(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        let node = self.nodes.get(&parent.0).ok_or(Errno::ENOENT)?;
        Ok(node.path.join(name))
    }

    /// The inode number of `path`, made up on first sight.
    fn inode_of(&mut self, path: PathBuf) -> u64 {
        if let Some(&inode) = self.inodes.get(&path) {
            return inode;
        }
        let inode = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(path.clone(), inode);
        self.nodes.insert(
            inode,
            Node {
                path,
                file: None,
                overlay: None,
            },
        );
        inode
    }

    /// The backing file of a regular file, opened for reading and, where
    /// the backing folder allows, for writing.
    fn file(&mut self, inode: INodeNo) -> Result<&File, Errno> {
        let path = self.backing_path(inode)?;
        let node = self.node(inode)?;
        if node.file.is_none() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .or_else(|_| File::open(&path))?;
            node.file = Some(file);
        }
        node.file.as_ref().ok_or(Errno::EIO)
    }

    /// The overlay of a regular file and its backing file.
    fn overlay(&mut self, inode: INodeNo) -> Result<(&mut Overlay, &File), Errno> {
        self.file(inode)?;
        let node = self.node(inode)?;
        let file = node.file.as_ref().ok_or(Errno::EIO)?;
        if node.overlay.is_none() {
            node.overlay = Some(Overlay::new(file)?);
        }
        let overlay = node.overlay.as_mut().ok_or(Errno::EIO)?;
        Ok((overlay, file))
    }

    /// Attributes from the backing file, with the length its users see.
    fn attr(&mut self, inode: INodeNo) -> Result<FileAttr, Errno> {
        let path = self.backing_path(inode)?;
        let node = self.node(inode)?;
        // An open file may have lost its name (removed while open).
        let metadata = match &node.file {
            Some(file) => file.metadata()?,
            None => std::fs::symlink_metadata(&path)?,
        };
        let size = node.overlay.as_ref().map(Overlay::len);
        Ok(to_attr(inode, &metadata, size))
    }

    /// Looks `name` up in `parent`.
    fn lookup(&mut self, parent: INodeNo, name: &OsStr) -> Result<FileAttr, Errno> {
        self.alive()?;
        let path = self.child_path(parent, name)?;
        std::fs::symlink_metadata(self.root.join(&path))?;
        let inode = INodeNo(self.inode_of(path));
        self.attr(inode)
    }

    fn set_attr(
        &mut self,
        inode: INodeNo,
        mode: Option<u32>,
        owner: (Option<u32>, Option<u32>),
        size: Option<u64>,
        times: (Option<TimeOrNow>, Option<TimeOrNow>),
    ) -> Result<FileAttr, Errno> {
        self.writable()?;
        let path = self.backing_path(inode)?;
        if let Some(size) = size {
            let (overlay, _) = self.overlay(inode)?;
            overlay.truncate(size);
        }
        if let Some(mode) = mode {
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        }
        if owner.0.is_some() || owner.1.is_some() {
            std::os::unix::fs::lchown(&path, owner.0, owner.1)?;
        }
        if times.0.is_some() || times.1.is_some() {
            let when = |t: TimeOrNow| match t {
                TimeOrNow::SpecificTime(t) => t,
                TimeOrNow::Now => SystemTime::now(),
            };
            let mut set = std::fs::FileTimes::new();
            if let Some(t) = times.0 {
                set = set.set_accessed(when(t));
            }
            if let Some(t) = times.1 {
                set = set.set_modified(when(t));
            }
            File::open(&path)?.set_times(set)?;
        }
        self.attr(inode)
    }

    /// Opens a file; a read-only file system refuses to open one for
    /// writing, a failing device fails only the writes themselves.
    fn open(&mut self, inode: INodeNo, flags: OpenFlags) -> Result<(), Errno> {
        self.alive()?;
        if flags.acc_mode() != OpenAccMode::O_RDONLY && self.faults.read_only {
            return Err(Errno::EROFS);
        }
        if self.backing_path(inode)?.is_file() {
            self.file(inode)?;
        }
        Ok(())
    }

    fn create(
        &mut self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<FileAttr, Errno> {
        self.writable()?;
        let path = self.child_path(parent, name)?;
        let mut options = OpenOptions::new();
        options.read(true).write(true).mode(mode);
        if flags & libc::O_EXCL != 0 {
            options.create_new(true);
        } else {
            options.create(true);
        }
        let file = options.open(self.root.join(&path))?;
        std::os::unix::fs::fchown(&file, Some(req.uid()), Some(req.gid()))?;
        let inode = self.inode_of(path);
        self.created.insert(inode);
        let node = self.node(INodeNo(inode))?;
        node.file = Some(file);
        node.overlay = None;
        self.attr(INodeNo(inode))
    }

    fn mkdir(
        &mut self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
    ) -> Result<FileAttr, Errno> {
        self.writable()?;
        let path = self.child_path(parent, name)?;
        let full = self.root.join(&path);
        std::fs::create_dir(&full)?;
        std::fs::set_permissions(&full, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        std::os::unix::fs::lchown(&full, Some(req.uid()), Some(req.gid()))?;
        let inode = self.inode_of(path);
        self.attr(INodeNo(inode))
    }

    /// Removes a name (a file, or with `folder` an empty folder). An open
    /// file keeps its node, so its users may go on.
    fn remove(&mut self, parent: INodeNo, name: &OsStr, folder: bool) -> Result<(), Errno> {
        self.writable()?;
        let path = self.child_path(parent, name)?;
        let full = self.root.join(&path);
        if folder {
            std::fs::remove_dir(full)?;
        } else {
            std::fs::remove_file(full)?;
        }
        if let Some(inode) = self.inodes.remove(&path) {
            self.created.remove(&inode);
        }
        Ok(())
    }

    fn rename(
        &mut self,
        parent: INodeNo,
        name: &OsStr,
        new_parent: INodeNo,
        new_name: &OsStr,
    ) -> Result<(), Errno> {
        self.writable()?;
        let from = self.child_path(parent, name)?;
        let to = self.child_path(new_parent, new_name)?;
        std::fs::rename(self.root.join(&from), self.root.join(&to))?;
        if let Some(replaced) = self.inodes.remove(&to) {
            self.created.remove(&replaced);
        }
        // The moved name and, for a folder, everything below it.
        let moved: Vec<(PathBuf, u64)> = self
            .inodes
            .iter()
            .filter(|(path, _)| path.starts_with(&from))
            .map(|(path, &inode)| (path.clone(), inode))
            .collect();
        for (old, inode) in moved {
            self.inodes.remove(&old);
            let new = match old.strip_prefix(&from) {
                Ok(rest) if rest.as_os_str().is_empty() => to.clone(),
                Ok(rest) => to.join(rest),
                Err(_) => continue,
            };
            if let Some(node) = self.nodes.get_mut(&inode) {
                node.path.clone_from(&new);
            }
            self.inodes.insert(new, inode);
        }
        Ok(())
    }

    fn read(&mut self, inode: INodeNo, offset: u64, size: u32) -> Result<Vec<u8>, Errno> {
        self.alive()?;
        let (overlay, file) = self.overlay(inode)?;
        Ok(overlay.read(file, offset, size)?)
    }

    fn write(&mut self, inode: INodeNo, offset: u64, data: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        let (overlay, file) = self.overlay(inode)?;
        overlay.write(file, offset, data)?;
        Ok(())
    }

    fn fsync(&mut self, inode: INodeNo) -> Result<(), Errno> {
        self.syncable()?;
        let node = self.node(inode)?;
        if let (Some(overlay), Some(file)) = (node.overlay.as_mut(), node.file.as_ref()) {
            overlay.sync(file)?;
        }
        Ok(())
    }

    /// Makes the names created in folder `inode` durable.
    fn fsync_dir(&mut self, inode: INodeNo) -> Result<(), Errno> {
        self.syncable()?;
        let folder = self.nodes.get(&inode.0).ok_or(Errno::ENOENT)?.path.clone();
        let nodes = &self.nodes;
        self.created.retain(|created| {
            nodes
                .get(created)
                .is_some_and(|node| node.path.parent() != Some(folder.as_path()))
        });
        Ok(())
    }

    /// The entries of folder `inode`, `.` and `..` first, with their inode
    /// numbers and kinds.
    fn list(&mut self, inode: INodeNo) -> Result<Vec<(u64, FileType, PathBuf)>, Errno> {
        self.alive()?;
        let folder = self.nodes.get(&inode.0).ok_or(Errno::ENOENT)?.path.clone();
        let mut names: Vec<(PathBuf, FileType)> = Vec::new();
        for entry in std::fs::read_dir(self.root.join(&folder))? {
            let entry = entry?;
            let kind = FileType::from_std(entry.file_type()?).unwrap_or(FileType::RegularFile);
            names.push((entry.file_name().into(), kind));
        }
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let mut entries = vec![
            (inode.0, FileType::Directory, PathBuf::from(".")),
            (inode.0, FileType::Directory, PathBuf::from("..")),
        ];
        for (name, kind) in names {
            let child = self.inode_of(folder.join(&name));
            entries.push((child, kind, name));
        }
        Ok(entries)
    }
}

fn refuse_if(fault: bool, errno: Errno) -> Result<(), Errno> {
    if fault {
        Err(errno)
    } else {
        Ok(())
    }
}

fn to_attr(inode: INodeNo, metadata: &Metadata, size: Option<u64>) -> FileAttr {
    let at = |secs: i64, nanos: i64| {
        let secs = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
        UNIX_EPOCH + secs + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    };
    let kind = FileType::from_std(metadata.file_type()).unwrap_or(FileType::RegularFile);
    FileAttr {
        ino: inode,
        size: size.unwrap_or(metadata.size()),
        blocks: metadata.blocks(),
        atime: at(metadata.atime(), metadata.atime_nsec()),
        mtime: at(metadata.mtime(), metadata.mtime_nsec()),
        ctime: at(metadata.ctime(), metadata.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind,
        perm: u16::try_from(metadata.mode() & 0o7777).unwrap_or(0),
        nlink: u32::try_from(metadata.nlink()).unwrap_or(u32::MAX),
        uid: metadata.uid(),
        gid: metadata.gid(),
        rdev: u32::try_from(metadata.rdev()).unwrap_or(0),
        blksize: u32::try_from(metadata.blksize()).unwrap_or(4096),
        flags: 0,
    }
}

/// The file system fuser serves; the test's handle shares its state.
pub(crate) struct TestFilesystem {
    pub(crate) state: Shared,
}

impl TestFilesystem {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held leaves nothing half-changed that
        // matters more than going on to unmount.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn entry(reply: ReplyEntry, result: Result<FileAttr, Errno>) {
    match result {
        Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn empty(reply: ReplyEmpty, result: Result<(), Errno>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for TestFilesystem {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        entry(reply, self.state().lookup(parent, name));
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let mut state = self.state();
        match state.alive().and_then(|()| state.attr(ino)) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self
            .state()
            .set_attr(ino, mode, (uid, gid), size, (atime, mtime))
        {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        entry(reply, self.state().mkdir(req, parent, name, mode & !umask));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(reply, self.state().remove(parent, name, false));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(reply, self.state().remove(parent, name, true));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.state().rename(parent, name, newparent, newname));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        // No direct I/O: SQLite maps its -shm file shared, which needs the
        // page cache.
        match self.state().open(ino, flags) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.state().create(req, parent, name, mode & !umask, flags) {
            Ok(attr) => reply.created(
                &TTL,
                &attr,
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        match self.state().read(ino, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.state().write(ino, offset, data) {
            Ok(()) => reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX)),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() does not make anything durable; only fsync does.
        empty(reply, self.state().alive());
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.state().fsync(ino));
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.state().list(ino) {
            Ok(entries) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(start) {
                    if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.state().fsync_dir(ino));
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        // The kernel checks permissions itself (`default_permissions`).
        empty(reply, self.state().alive());
    }
}

/// Whether `path` is an empty folder, as a mountpoint must be.
pub(crate) fn is_empty_folder(path: &Path) -> std::io::Result<bool> {
    Ok(std::fs::read_dir(path)?.next().is_none())
}
