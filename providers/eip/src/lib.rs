//! Placeholder until the eip provider lands.
