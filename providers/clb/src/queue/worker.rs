//! The worker of one CLB's queue: collects jobs for the batch window and runs them as rounds;
//! the batching itself is [`dac_provider_support::queue::run_worker`].
use std::sync::Arc;

use dac_provider_support::queue::{Batching, run_worker};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::round;
use super::{Job, WorkerEnv};

pub(crate) async fn run(
    env: Arc<WorkerEnv>,
    region: String,
    lb_id: String,
    rx: mpsc::UnboundedReceiver<Job>,
) {
    let span = tracing::debug_span!("clb-queue", %region, lb = %lb_id);
    let batching = Batching {
        window: env.batch_window,
        max_jobs: env.max_batch_jobs,
        // Its calls take a protocol's ports or a CLB's targets: no one unit to round to.
        per_call: 1,
    };
    let (env, region, lb_id) = (&env, &region, &lb_id);
    run_worker(rx, batching, |round| async move {
        env.api.count_round();
        round::run(env, region, lb_id, round).await;
    })
    .instrument(span)
    .await
}
