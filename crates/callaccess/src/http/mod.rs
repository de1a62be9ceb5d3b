//! The HTTP edge (being written).
