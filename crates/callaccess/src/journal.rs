//! The request journal (control-plane.md §4): every `/v2` request, kept in
//! a bounded ring for tests to list and count.

/// The ring of recent `/v2` requests; capacity 0 keeps nothing.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self { capacity }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}
