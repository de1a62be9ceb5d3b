//! What one file holds that no fsync has made durable yet.
//!
//! The backing file is the disk: whatever is in it survives a power cut.
//! Writes and truncations since the last sync live here, in memory, on top
//! of it, the way they would live in the page cache of a real machine; a
//! sync writes them into the backing file, and a power cut simply drops the
//! overlay. Readers see the overlay merged with the backing file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Unsynced writes are kept in blocks of this size, each whole.
const BLOCK: u64 = 4096;

/// The unsynced state of one regular file.
#[derive(Debug)]
pub(crate) struct Overlay {
    /// The length the file's users see.
    len: u64,
    /// The length of the backing file.
    durable: u64,
    /// Bytes of the backing file from here on are hidden: a truncation cut
    /// them off and no sync has made that durable yet. Never above `len`.
    visible: u64,
    /// Every block written since the last sync, as the file's users see it;
    /// bytes at or past `len` are zero.
    blocks: BTreeMap<u64, Box<[u8]>>,
}

impl Overlay {
    /// Nothing unsynced on top of `backing`.
    pub(crate) fn new(backing: &File) -> io::Result<Self> {
        let len = backing.metadata()?.len();
        Ok(Self {
            len,
            durable: len,
            visible: len,
            blocks: BTreeMap::new(),
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Up to `size` bytes from `offset`, as the file's users see them.
    pub(crate) fn read(&self, backing: &File, offset: u64, size: u32) -> io::Result<Vec<u8>> {
        let end = self.len.min(offset.saturating_add(u64::from(size)));
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut out = vec![0; to_usize(end - offset)];
        let durable_end = end.min(self.visible);
        if offset < durable_end {
            read_up_to(backing, &mut out[..to_usize(durable_end - offset)], offset)?;
        }
        for (&index, block) in self.blocks.range(offset / BLOCK..=(end - 1) / BLOCK) {
            let start = index * BLOCK;
            let from = offset.max(start);
            let to = end.min(start + BLOCK);
            out[to_usize(from - offset)..to_usize(to - offset)]
                .copy_from_slice(&block[to_usize(from - start)..to_usize(to - start)]);
        }
        Ok(out)
    }

    /// Writes `data` at `offset`, in memory only.
    pub(crate) fn write(&mut self, backing: &File, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset + data.len() as u64;
        let mut at = offset;
        while at < end {
            let index = at / BLOCK;
            let start = index * BLOCK;
            let to = end.min(start + BLOCK);
            let block = match self.blocks.entry(index) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(entry) => {
                    let mut fresh = vec![0; to_usize(BLOCK)].into_boxed_slice();
                    let durable = self.visible.min(start + BLOCK);
                    if start < durable {
                        read_up_to(backing, &mut fresh[..to_usize(durable - start)], start)?;
                    }
                    entry.insert(fresh)
                }
            };
            block[to_usize(at - start)..to_usize(to - start)]
                .copy_from_slice(&data[to_usize(at - offset)..to_usize(to - offset)]);
            at = to;
        }
        self.len = self.len.max(end);
        Ok(())
    }

    /// Sets the length to `len`, in memory only.
    pub(crate) fn truncate(&mut self, len: u64) {
        if len < self.len {
            self.blocks.retain(|&index, _| index * BLOCK < len);
            if let Some(block) = self.blocks.get_mut(&(len / BLOCK)) {
                block[to_usize(len % BLOCK)..].fill(0);
            }
            self.visible = self.visible.min(len);
        }
        self.len = len;
    }

    /// Whether a sync would change the backing file.
    pub(crate) fn is_dirty(&self) -> bool {
        !self.blocks.is_empty() || self.len != self.durable || self.visible != self.durable
    }

    /// Makes everything durable: writes it into the backing file.
    ///
    /// The backing file is not fsync'd in turn: in these tests it plays the
    /// disk, and only a power cut of the test machine itself would need that.
    pub(crate) fn sync(&mut self, backing: &File) -> io::Result<()> {
        if !self.is_dirty() {
            return Ok(());
        }
        backing.set_len(self.visible)?;
        for (&index, block) in &self.blocks {
            let start = index * BLOCK;
            let to = self.len.min(start + BLOCK);
            backing.write_all_at(&block[..to_usize(to - start)], start)?;
        }
        backing.set_len(self.len)?;
        self.blocks.clear();
        self.durable = self.len;
        self.visible = self.len;
        Ok(())
    }
}

/// Fills `buf` from `offset` on, leaving zeros past the end of the file.
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Offsets within one request or one block, which fit in memory.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn backing(content: &[u8]) -> (tempfile::NamedTempFile, File) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), content).unwrap();
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(file.path())
            .unwrap();
        (file, handle)
    }

    fn everything(overlay: &Overlay, file: &File) -> Vec<u8> {
        overlay.read(file, 0, u32::MAX).unwrap()
    }

    #[test]
    fn a_write_reads_back_but_stays_out_of_the_backing_file_until_synced() {
        let (path, file) = backing(b"hello world");
        let mut overlay = Overlay::new(&file).unwrap();
        overlay.write(&file, 6, b"there, friend").unwrap();
        assert_eq!(everything(&overlay, &file), b"hello there, friend");
        assert_eq!(overlay.read(&file, 4, 4).unwrap(), b"o th");
        assert_eq!(overlay.len(), 19);
        assert_eq!(std::fs::read(path.path()).unwrap(), b"hello world");

        overlay.sync(&file).unwrap();
        assert_eq!(std::fs::read(path.path()).unwrap(), b"hello there, friend");
        assert!(!overlay.is_dirty());
        assert_eq!(everything(&overlay, &file), b"hello there, friend");
    }

    #[test]
    fn a_power_cut_drops_what_was_not_synced_and_keeps_what_was() {
        let (path, file) = backing(b"");
        let mut overlay = Overlay::new(&file).unwrap();
        overlay.write(&file, 0, b"synced").unwrap();
        overlay.sync(&file).unwrap();
        overlay.write(&file, 0, b"SYNCED and more").unwrap();
        // The power cut: the overlay is gone; the disk is what remains.
        drop(overlay);
        assert_eq!(std::fs::read(path.path()).unwrap(), b"synced");
        let after = Overlay::new(&file).unwrap();
        assert_eq!(everything(&after, &file), b"synced");
    }

    #[test]
    fn writes_across_blocks_and_past_the_end_leave_a_hole_of_zeros() {
        let (path, file) = backing(&[7; 5000]);
        let mut overlay = Overlay::new(&file).unwrap();
        overlay.write(&file, 4090, &[1; 20]).unwrap();
        overlay.write(&file, 10_000, &[2; 3]).unwrap();
        let seen = everything(&overlay, &file);
        assert_eq!(seen.len(), 10_003);
        assert!(seen[..4090].iter().all(|&b| b == 7));
        assert!(seen[4090..4110].iter().all(|&b| b == 1));
        assert!(seen[4110..5000].iter().all(|&b| b == 7));
        assert!(seen[5000..10_000].iter().all(|&b| b == 0));
        assert_eq!(&seen[10_000..], &[2, 2, 2]);
        overlay.sync(&file).unwrap();
        assert_eq!(std::fs::read(path.path()).unwrap(), seen);
    }

    #[test]
    fn a_truncation_hides_the_old_bytes_at_once_and_reaches_the_disk_on_sync() {
        let (path, file) = backing(&[9; 6000]);
        let mut overlay = Overlay::new(&file).unwrap();
        overlay.write(&file, 4000, &[1; 200]).unwrap();
        overlay.truncate(100);
        assert_eq!(everything(&overlay, &file), vec![9; 100]);
        // Growing again shows zeros, not the bytes the truncation removed.
        overlay.truncate(5000);
        overlay.write(&file, 4999, &[3]).unwrap();
        let seen = everything(&overlay, &file);
        assert_eq!(seen.len(), 5000);
        assert!(seen[..100].iter().all(|&b| b == 9));
        assert!(seen[100..4999].iter().all(|&b| b == 0));
        assert_eq!(seen[4999], 3);
        assert_eq!(std::fs::read(path.path()).unwrap(), vec![9; 6000]);

        overlay.sync(&file).unwrap();
        assert_eq!(std::fs::read(path.path()).unwrap(), seen);
    }

    #[test]
    fn an_unsynced_truncation_is_undone_by_a_power_cut() {
        let (path, file) = backing(b"keep all of this");
        let mut overlay = Overlay::new(&file).unwrap();
        overlay.truncate(0);
        assert!(overlay.is_dirty());
        assert!(everything(&overlay, &file).is_empty());
        drop(overlay);
        assert_eq!(std::fs::read(path.path()).unwrap(), b"keep all of this");
    }
}
