//! The `natgw` address provider: every Pod port gets a DNAT rule on a Tencent Cloud VPC NAT
//! gateway, `EIP:publicPort -> PodIP:targetPort`; the address is `EIP:publicPort`. The model is
//! Alibaba's per-Pod NAT DNAT (ack-extend-network-controller), on Tencent Cloud's VPC API.
//!
//! The controller allocates the slots (gateway, EIP, public port, protocol) from what
//! [`frontends`](dac_provider_api::AddressProvider::frontends) reports (the configured
//! gateways, their EIPs, the rule limit minus rules others hold, the configured port range);
//! this provider makes the cloud match each slot.
//!
//! How it talks to the cloud, and why:
//! - **One write queue per gateway** (module `queue`). Writes to one gateway contend for it
//!   (`UnsupportedOperation.NatGatewayIsBusy`), and Create/Delete take arrays of rules, so every
//!   `ensure`/`release` becomes a job on its gateway's queue; one worker collects jobs for a
//!   short window and does them in one round: one describe, one Delete and one Create call per
//!   chunk of rules. Different gateways proceed in parallel.
//! - **Idempotent and crash-safe.** Every rule carries an ownership [`marker`] in its
//!   `Description` (`dac_<cluster>_<namespace>_<name>`). `ensure` adopts a rule at its slot that
//!   carries its marker (made by a controller that crashed before writing the child's status),
//!   moves it when the Pod came back with a new IP (the public address stays), and never
//!   touches a rule that does not carry it. `release` deletes only what carries the marker, and
//!   a missing rule is success.
//! - **No backend, no rule.** A DNAT rule needs a private IP, so a binding without a backend has
//!   none: its rule (if any) is deleted and the binding is `Available` with its address; the
//!   slot stays allocated in the controller.
//! - **One failing rule does not fail its batch**: a call the cloud refuses as a whole for one
//!   rule's sake (a taken slot, a Pod IP outside the VPC, the rule limit) is split until the
//!   culprit is alone, and only its waiter gets the error.
//! - Cloud calls are counted per action ([`NatgwProvider::stats`]).
//!
//! ```no_run
//! # async fn demo(client: dac_tencentcloud::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use dac_provider_natgw::{GatewayConfig, NatgwProvider, NatgwProviderConfig};
//!
//! let gateways = vec![GatewayConfig {
//!     id: "nat-demo0001".into(),
//!     region: None,
//!     eips: Vec::new(), // all the gateway's EIPs
//!     min_port: 30000,
//!     max_port: 30999,
//! }];
//! let config = NatgwProviderConfig {
//!     batch_window_ms: 200,
//!     ..NatgwProviderConfig::new("cls-demo", "ap-guangzhou", gateways)
//! };
//! let provider = NatgwProvider::new(Arc::new(client), config)?;
//! # let _ = provider;
//! # Ok(())
//! # }
//! ```
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

mod config;
mod errors;
mod gateways;
pub mod marker;
mod provider;
mod queue;
mod rule;
mod stats;

pub use config::{
    ConfigError, DEFAULT_RULE_LIMIT, DEFAULT_RULES_PER_CALL, GatewayConfig, NatgwProviderConfig,
};
pub use errors::reason;
pub use provider::NatgwProvider;
pub use stats::{NatgwStats, action};

/// The name users write in `spec.provider`.
pub const PROVIDER_NAME: &str = "natgw";
