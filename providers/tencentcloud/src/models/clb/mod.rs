//! CLB (`clb`, version 2018-03-17) models.
mod listener;
mod listener_config;
mod load_balancer;
mod target;
mod task;

pub use super::Filter;
pub use listener::*;
pub use listener_config::*;
pub use load_balancer::*;
pub use target::*;
pub use task::*;
