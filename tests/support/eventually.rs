use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout_at};

const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Polls `check` until it returns `Ok`, and returns that value. `check` returns
/// `Err(what it observed)`; if `limit` passes first, panics with `what` (the condition
/// waited for) and the last observation, so a failure says what was wrong.
pub async fn eventually<T, E, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + limit;
    let mut last = String::from("(the condition was never evaluated to the end)");
    loop {
        // A check that hangs is cut off at the deadline too.
        match timeout_at(deadline, check()).await {
            Ok(Ok(value)) => return value,
            Ok(Err(observed)) => last = observed.to_string(),
            Err(_) => {}
        }
        if Instant::now() + POLL_INTERVAL > deadline {
            panic!("timed out after {limit:?} waiting for {what}; last observed: {last}");
        }
        sleep(POLL_INTERVAL).await;
    }
}
