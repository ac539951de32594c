//! The worker of one gateway's queue: collects jobs for the batch window and runs them as
//! rounds; the batching itself is [`dac_provider_support::queue::run_worker`].
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use dac_provider_support::queue::{Batching, run_worker};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::round;
use super::{Job, WorkerEnv};

pub(crate) async fn run(
    env: Arc<WorkerEnv>,
    region: String,
    gateway: String,
    rx: mpsc::UnboundedReceiver<Job>,
) {
    let span = tracing::debug_span!("natgw-queue", %region, %gateway);
    let batching = Batching {
        window: env.batch_window,
        max_jobs: env.max_batch_jobs,
        per_call: env.max_rules_per_call,
    };
    let wrote = AtomicBool::new(false);
    let (env, region, gateway, wrote) = (&env, &region, &gateway, &wrote);
    run_worker(rx, batching, |round| async move {
        env.api.count_round();
        round::run(env, region, gateway, wrote, round).await;
    })
    .instrument(span)
    .await
}
