//! The `eip` address provider: every Pod gets one Tencent Cloud EIP, associated with the Pod's
//! VPC IP on its ENI; each of the Pod's ports is reachable at EIP:targetPort.
//!
//! Why it works the way it does:
//! - **EIPs are scarce.** An account has a quota (20 per region by default) and may allocate
//!   only twice that per day, and an unbound EIP is billed. So EIPs are reused rather than
//!   released and allocated again: a Pod that goes returns its EIP to a **warm pool** (bounded by
//!   `pool.max`; beyond it the EIP is released), new Pods take from the pool first, and the
//!   pool can be kept at `pool.min` ahead of need. Before allocating, the quota and the daily
//!   limit are checked (DescribeAddressQuota, module `quota`): Pods beyond them get the
//!   user-fixable `EIPQuotaExceeded` at once, never a loop of failing allocations.
//! - **One EIP per Pod, however many ports.** The controller ensures every port as its own
//!   binding, concurrently; a per-Pod lock (module `locks`) makes them meet on one EIP.
//! - **Retention** ([`Retention`]): when a Pod's last binding is released its EIP is unbound and
//!   given back, or kept for the Pod's name for a while (`KeepFor`), so that a Pod recreated in
//!   time gets the same address back. The deadline is written into the EIP's name, so that a
//!   restarted provider keeps it until then too.
//! - **Ownership.** Every EIP it allocates is named with a [`marker`] (`dac_<cluster>_<ns>_<pod>`
//!   or `dac_<cluster>_pool`); EIPs without this cluster's marker (a NAT gateway's, the
//!   console's) are never bound, unbound or released.
//! - **Crash safety.** Which Pod holds which EIP is rebuilt from the cloud after a restart: an
//!   EIP bound to a Pod's IP is that Pod's, a binding's `resource_id` names its EIP, and an
//!   allocation whose answer was lost is found by the name it gave (and resent with the same
//!   ClientToken) instead of allocating twice.
//! - Cloud calls are counted ([`EipProvider::stats`]) so that tests and benchmarks can report
//!   writes and EIPs allocated.
//!
//! ```no_run
//! # fn demo(client: dac_tencentcloud::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use dac_provider_eip::{EipProvider, EipProviderConfig, PoolLimits, Retention};
//!
//! let config = EipProviderConfig {
//!     region: "ap-guangzhou".into(),
//!     cluster_id: "cls-demo".into(),
//!     pool: PoolLimits { min: 2, max: 10 },
//!     retention: Retention::KeepFor(Duration::from_secs(1800)),
//!     ..Default::default()
//! };
//! let provider = EipProvider::new(Arc::new(client), config)?;
//! # let _ = provider;
//! # Ok(())
//! # }
//! ```
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

mod cloud;
mod config;
mod engine;
mod errors;
mod inventory;
mod locks;
mod maintenance;
pub mod marker;
mod options;
mod provider;
mod quota;
mod stats;

pub use config::{ConfigError, EipProviderConfig, PoolLimits, Retention, parse_duration};
pub use errors::reason;
pub use options::EipOptions;
pub use provider::EipProvider;
pub use stats::EipStats;

/// The name users write in `spec.provider`.
pub const PROVIDER_NAME: &str = "eip";
