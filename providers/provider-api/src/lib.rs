//! The provider API: the `AddressProvider` trait and its request, result and error types.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]
