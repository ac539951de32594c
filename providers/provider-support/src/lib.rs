//! Logic the built-in providers (`clb`, `natgw`, `eip`) share: the same algorithm with
//! different names and constants. What differs between them for a reason (the cloud API they
//! wrap, their error mapping, their plans) stays in each provider.
//!
//! - [`marker`]: the `dac_<cluster>_<namespace>_<name>` ownership marker with its length limit
//!   and hashed fallback;
//! - [`ttl_cache`]: a map whose entries expire;
//! - [`stats`]: counts of cloud calls by action, split into writes and reads;
//! - [`split`]: batched calls that halve a refused batch until the culprit is alone.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod marker;
pub mod split;
pub mod stats;
pub mod ttl_cache;
