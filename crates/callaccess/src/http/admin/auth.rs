//! Admin tokens on each admin request.
