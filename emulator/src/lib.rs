//! A local emulator of the Tencent Cloud API 3.0 (CLB, VPC NAT-gateway DNAT, EIP).
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]
