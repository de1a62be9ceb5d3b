//! Fault rules (control-plane.md §5): `/v2` answers that fail on purpose.

/// The fault rules a server holds.
#[derive(Debug, Default)]
pub struct Faults {}

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }
}
