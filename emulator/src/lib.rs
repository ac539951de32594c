//! A local emulator of the Tencent Cloud API 3.0 (CLB, VPC NAT-gateway DNAT, EIP).
//!
//! It speaks the real protocol (TC3-HMAC-SHA256 signatures, the `Response` envelope, errors as
//! HTTP 200, the official SDK's field names), keeps state per region, models asynchronous tasks,
//! the CLB instance lock, quotas and rate limits, and injects faults on request.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use tencentcloud_emulator::{Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig::demo(), "127.0.0.1:0".parse()?).await?;
//! println!("clb and vpc endpoint: {}", emulator.endpoint());
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

mod admin;
mod api;
mod auth;
mod cidr;
mod clb;
mod config;
mod dispatch;
mod eip;
mod eni;
mod error;
mod faults;
mod filters;
mod idempotency;
mod natgw;
mod persistence;
mod ratelimit;
mod server;
mod state;
mod tasks;
pub mod tc3;
mod util;
mod validation;

pub use cidr::Ipv4Cidr;
pub use config::{
    Credential, EipSeed, EmulatorConfig, LoadBalancerSeed, LoadBalancerType, NatGatewaySeed,
    RegionConfig, Settings, VpcConfig,
};
pub use eni::{eni_id_for, instance_id_for};
pub use error::ApiError;
pub use faults::FaultRule;
pub use server::{Emulator, RunningEmulator};
