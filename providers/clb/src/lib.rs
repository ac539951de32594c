//! The `clb` address provider: every Pod port gets its own Tencent Cloud CLB listener, with the
//! Pod's VPC IP and target port as the listener's only target; the address is the CLB VIP:port.
//!
//! How it talks to the cloud, and why:
//! - **One write queue per CLB instance** (module `queue`). The cloud locks an instance while one of
//!   its write tasks runs, so concurrent writes to one CLB only collide
//!   (`FailedOperation.ResourceInOperating`). Every `ensure`/`release` becomes a job on the
//!   queue of its (region, CLB); one worker per queue collects jobs for a short window and does
//!   them in one *round*: one DescribeListeners, CreateListener with up to 49 ports per call,
//!   BatchDeregister/BatchRegisterTargets with up to 500 targets per call, and
//!   DeleteLoadBalancerListeners with up to 20 listeners per call. Different CLBs have different
//!   workers, so they proceed in parallel.
//! - **Idempotent and crash-safe.** Every listener it creates is named with an ownership
//!   [`marker`] (`dac_<cluster>_<namespace>_<name>`). `ensure` adopts a listener at its
//!   (port, protocol) that carries its marker (one created by a controller that crashed before
//!   writing the child's status), and never touches one that does not. `release` deletes only
//!   what carries the marker, and a missing listener is success.
//! - **Listener settings follow their config**: a listener whose settings differ from its
//!   binding's `CLBListenerConfig` (edited after the listener was made) is changed with
//!   ModifyListener at the next `ensure`.
//! - **Addresses**: `VIP:port`; `domain:port` for a domain-based CLB (its VIPs may change);
//!   `[IPv6]:port` for an IPv6 CLB.
//! - **One failing binding does not fail its batch**: a call the cloud rejects as a whole
//!   (a port conflict, the quota) is split until the culprit is alone, and only its waiter gets
//!   the error.
//! - Cloud calls are counted per action ([`ClbProvider::stats`]) so that tests and benchmarks
//!   can report writes per binding.
//!
//! ```no_run
//! # async fn demo(client: dac_tencentcloud::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use dac_provider_clb::{ClbProvider, ClbProviderConfig};
//!
//! let config = ClbProviderConfig {
//!     region: "ap-guangzhou".into(),
//!     cluster_id: "cls-demo".into(),
//!     ..Default::default()
//! };
//! let provider = ClbProvider::new(Arc::new(client), config)?;
//! # let _ = provider;
//! # Ok(())
//! # }
//! ```
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

mod cache;
mod config;
mod errors;
mod instances;
pub mod marker;
mod provider;
mod queue;
mod settings;
mod stats;

pub use config::{ClbProviderConfig, ConfigError};
pub use errors::reason;
pub use provider::ClbProvider;
pub use settings::ListenerSettings;
pub use stats::ClbStats;

/// The name users write in `spec.provider`.
pub const PROVIDER_NAME: &str = "clb";
