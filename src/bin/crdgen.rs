//! Prints every CRD as one multi-document YAML stream:
//! `cargo run --bin crdgen > deploy/crds/crds.yaml`.
#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    print!("{}", dedicated_address_controller::crd::to_yaml()?);
    Ok(())
}
