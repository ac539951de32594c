#![deny(warnings, rust_2018_idioms)]
#![forbid(unsafe_code)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dedicated_address_controller::app::main(Box::new(|_, _| Ok(()))).await
}
