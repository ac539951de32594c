//! Tencent Cloud API 3.0 client for the CLB and VPC actions the address providers need.
//!
//! - [`signing`]: TC3-HMAC-SHA256 (the emulator verifies with its own implementation; the
//!   official SDK's vectors in `tests/vectors/` check both);
//! - [`models`]: typed requests and responses, field names as in the official SDK;
//! - [`Client`]: signs and sends calls, reads the `{"Response": ...}` envelope, classifies errors
//!   ([`ErrorKind`]), retries throttled, busy and transient failures with jittered backoff, and
//!   paces each action with a client-side token bucket;
//! - [`ClbApi`] / [`VpcApi`]: the typed actions as traits, mockable with the `mock` feature;
//! - async tasks: [`Client::wait_clb_task`], [`Client::wait_vpc_task`];
//! - [`CredentialsProvider`]: environment or a mounted Secret directory, reloaded on change.
//!
//! ```no_run
//! # async fn demo() -> dac_tencentcloud::Result<()> {
//! use dac_tencentcloud::{Client, CredentialsProvider, models::clb};
//!
//! let client = Client::builder()
//!     .credentials(CredentialsProvider::from_env()?)
//!     .endpoint_all("http://127.0.0.1:9000") // the emulator; omit for the real cloud
//!     .build()?;
//! let created = client
//!     .create_listener(
//!         "ap-guangzhou",
//!         &clb::CreateListenerRequest {
//!             load_balancer_id: "lb-demo0001".into(),
//!             ports: vec![30001],
//!             protocol: "TCP".into(),
//!             ..Default::default()
//!         },
//!     )
//!     .await?;
//! let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
//! client.wait_clb_task("ap-guangzhou", &created.request_id, deadline).await?;
//! # Ok(())
//! # }
//! ```
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

mod api;
mod client;
pub mod credentials;
mod error;
pub mod models;
pub mod ratelimit;
pub mod retry;
mod service;
pub mod signing;
mod tasks;
pub mod transport;

pub use api::{ClbApi, VpcApi};
#[cfg(any(test, feature = "mock"))]
pub use api::{MockClbApi, MockVpcApi};
pub use client::{CallObserver, Client, ClientBuilder};
pub use credentials::{Credentials, CredentialsProvider, Secret};
pub use error::{Error, ErrorKind, Result};
pub use ratelimit::RateLimitConfig;
pub use retry::RetryConfig;
pub use service::{Endpoint, Service};
pub use tasks::TaskPollConfig;
pub use transport::RequestMethod;
