//! Placeholder until the natgw provider lands.
