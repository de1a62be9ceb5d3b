//! The storage contract suite. (Being written.)
