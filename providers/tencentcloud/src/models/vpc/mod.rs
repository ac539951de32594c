//! VPC (`vpc`, version 2017-03-12) models: NAT-gateway DNAT rules, NAT gateways, EIPs, ENIs and
//! the async task result.
mod address;
mod dnat;
mod nat_gateway;
mod network_interface;
mod task;

pub use super::Filter;
pub use address::*;
pub use dnat::*;
pub use nat_gateway::*;
pub use network_interface::*;
pub use task::*;
