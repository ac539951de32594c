//! Counts of cloud calls by action, so that tests, benchmarks and the controller's metrics can
//! say how many writes a binding costs. The counter wraps the [`ClbApi`] the provider uses, so
//! every call the provider makes is counted once, whatever its outcome (retries inside the
//! client are not visible here and not counted).
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use dac_provider_support::stats::{CallCounter, CallStats, Kind};
use dac_tencentcloud::models::clb;
use dac_tencentcloud::{ClbApi, Result};
use tokio::time::Instant;

/// A snapshot of the calls made so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClbStats {
    /// Calls by action, writes and reads apart; also reachable through `Deref`, so that
    /// `stats.writes` and `stats.writes_of(..)` read as before.
    pub calls: CallStats,
    /// Batching rounds run by the per-CLB workers.
    pub rounds: u64,
}

impl Deref for ClbStats {
    type Target = CallStats;

    fn deref(&self) -> &CallStats {
        &self.calls
    }
}

impl ClbStats {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &ClbStats) -> ClbStats {
        ClbStats {
            calls: self.calls.since(&earlier.calls),
            rounds: self.rounds - earlier.rounds,
        }
    }
}

impl std::fmt::Display for ClbStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {} rounds", self.calls, self.rounds)
    }
}

/// A [`ClbApi`] that counts the calls it passes on.
pub(crate) struct CountingClbApi {
    inner: Arc<dyn ClbApi>,
    calls: CallCounter,
    rounds: AtomicU64,
}

impl CountingClbApi {
    pub fn new(inner: Arc<dyn ClbApi>) -> Self {
        Self {
            inner,
            calls: CallCounter::new(),
            rounds: AtomicU64::new(0),
        }
    }

    pub fn count_round(&self) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ClbStats {
        ClbStats {
            calls: self.calls.snapshot(),
            rounds: self.rounds.load(Ordering::Relaxed),
        }
    }
}

/// Forwards each method to the wrapped API after counting it under `$action`.
macro_rules! counted {
    ($( $method:ident => $action:literal, $kind:expr, $req:ty, $resp:ty; )*) => {
        #[async_trait]
        impl ClbApi for CountingClbApi {
            $(
                async fn $method(&self, region: &str, req: &$req) -> Result<$resp> {
                    self.calls.count($action, $kind);
                    self.inner.$method(region, req).await
                }
            )*

            async fn wait_clb_task(
                &self,
                region: &str,
                request_id: &str,
                deadline: Instant,
            ) -> Result<clb::DescribeTaskStatusResponse> {
                // One wait for a task; the polls it makes inside the client are not counted.
                self.calls.count("WaitClbTask", Kind::Read);
                self.inner.wait_clb_task(region, request_id, deadline).await
            }
        }
    };
}

counted! {
    create_listener => "CreateListener", Kind::Write, clb::CreateListenerRequest, clb::CreateListenerResponse;
    delete_listener => "DeleteListener", Kind::Write, clb::DeleteListenerRequest, clb::DeleteListenerResponse;
    delete_load_balancer_listeners => "DeleteLoadBalancerListeners", Kind::Write,
        clb::DeleteLoadBalancerListenersRequest, clb::DeleteLoadBalancerListenersResponse;
    describe_listeners => "DescribeListeners", Kind::Read,
        clb::DescribeListenersRequest, clb::DescribeListenersResponse;
    register_targets => "RegisterTargets", Kind::Write, clb::RegisterTargetsRequest, clb::RegisterTargetsResponse;
    deregister_targets => "DeregisterTargets", Kind::Write,
        clb::DeregisterTargetsRequest, clb::DeregisterTargetsResponse;
    batch_register_targets => "BatchRegisterTargets", Kind::Write,
        clb::BatchRegisterTargetsRequest, clb::BatchRegisterTargetsResponse;
    batch_deregister_targets => "BatchDeregisterTargets", Kind::Write,
        clb::BatchDeregisterTargetsRequest, clb::BatchDeregisterTargetsResponse;
    describe_targets => "DescribeTargets", Kind::Read, clb::DescribeTargetsRequest, clb::DescribeTargetsResponse;
    describe_load_balancers => "DescribeLoadBalancers", Kind::Read,
        clb::DescribeLoadBalancersRequest, clb::DescribeLoadBalancersResponse;
    create_load_balancer => "CreateLoadBalancer", Kind::Write,
        clb::CreateLoadBalancerRequest, clb::CreateLoadBalancerResponse;
    delete_load_balancer => "DeleteLoadBalancer", Kind::Write,
        clb::DeleteLoadBalancerRequest, clb::DeleteLoadBalancerResponse;
    describe_quota => "DescribeQuota", Kind::Read, clb::DescribeQuotaRequest, clb::DescribeQuotaResponse;
    describe_task_status => "DescribeTaskStatus", Kind::Read,
        clb::DescribeTaskStatusRequest, clb::DescribeTaskStatusResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use dac_tencentcloud::MockClbApi;

    #[tokio::test]
    async fn counts_writes_and_reads_apart() {
        let mut mock = MockClbApi::new();
        mock.expect_create_listener()
            .returning(|_, _| Ok(clb::CreateListenerResponse::default()));
        mock.expect_describe_listeners()
            .returning(|_, _| Ok(clb::DescribeListenersResponse::default()));
        let api = CountingClbApi::new(Arc::new(mock));
        let before = api.snapshot();
        for _ in 0..2 {
            api.create_listener("r", &Default::default()).await.unwrap();
        }
        api.describe_listeners("r", &Default::default())
            .await
            .unwrap();
        api.count_round();
        let stats = api.snapshot();
        assert_eq!(stats.writes_of("CreateListener"), 2);
        assert_eq!(stats.total_writes(), 2);
        assert_eq!(stats.reads_of("DescribeListeners"), 1);
        assert_eq!(stats.rounds, 1);
        assert_eq!(stats.since(&before), stats);
        assert_eq!(stats.since(&stats), ClbStats::default());
        assert!(stats.to_string().starts_with("2 writes"));
    }
}
