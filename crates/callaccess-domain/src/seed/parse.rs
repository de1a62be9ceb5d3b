//! Seed file parsing. (Being written.)

use super::{ExternalReference, Seed};

pub(super) fn parse(_text: &str) -> Result<Seed, Vec<String>> {
    Err(vec!["seed parsing is not implemented yet".to_owned()])
}

pub(super) fn external_references(_seed: &Seed) -> Vec<ExternalReference> {
    Vec::new()
}
