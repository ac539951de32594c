//! Logic the built-in providers (`clb`, `natgw`, `eip`) share: the same algorithm with
//! different names and constants. What differs between them for a reason (the cloud API they
//! wrap, their error mapping, their plans) stays in each provider.
//!
//! - [`config`]: range checks of numeric settings;
//! - [`marker`]: the `dac_<cluster>_<namespace>_<name>` ownership marker with its length limit
//!   and hashed fallback;
//! - [`ttl_cache`]: a map whose entries expire;
//! - [`stats`]: counts of cloud calls by action, split into writes and reads;
//! - [`split`]: batched calls that halve a refused batch until the culprit is alone;
//! - [`queue`]: the per-frontend write queues, their workers and how a round is taken;
//! - [`sweep`]: what keeps the orphan sweep off resources an `ensure` took up after listing;
//! - `testing` (feature `emulator-harness`, for tests only): the emulator test harness.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod config;
pub mod marker;
pub mod queue;
pub mod split;
pub mod stats;
pub mod sweep;
#[cfg(feature = "emulator-harness")]
pub mod testing;
pub mod ttl_cache;
