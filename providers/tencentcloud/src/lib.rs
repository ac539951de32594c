//! Tencent Cloud API 3.0 client.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

pub mod signing;
