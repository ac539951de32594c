//! Counts of cloud calls by action, so that tests, benchmarks and the controller's metrics can
//! say how many writes a binding costs. The counter wraps the [`ClbApi`] the provider uses, so
//! every call the provider makes is counted once, whatever its outcome (retries inside the
//! client are not visible here and not counted).
use std::sync::Arc;

use async_trait::async_trait;
use dac_provider_support::stats::{BatchCounter, BatchStats, Kind};
use dac_tencentcloud::models::clb;
use dac_tencentcloud::{ClbApi, Result};
use tokio::time::Instant;

/// A snapshot of the calls made so far, and of the rounds the per-CLB workers ran.
pub type ClbStats = BatchStats;

/// A [`ClbApi`] that counts the calls it passes on.
pub(crate) struct CountingClbApi {
    inner: Arc<dyn ClbApi>,
    counter: BatchCounter,
}

impl CountingClbApi {
    pub fn new(inner: Arc<dyn ClbApi>) -> Self {
        Self {
            inner,
            counter: BatchCounter::new(),
        }
    }

    pub fn count_round(&self) {
        self.counter.count_round();
    }

    pub fn snapshot(&self) -> ClbStats {
        self.counter.snapshot()
    }
}

/// Forwards each method to the wrapped API after counting it under `$action`.
macro_rules! counted {
    ($( $method:ident => $action:literal, $kind:expr, $req:ty, $resp:ty; )*) => {
        #[async_trait]
        impl ClbApi for CountingClbApi {
            $(
                async fn $method(&self, region: &str, req: &$req) -> Result<$resp> {
                    self.counter.count($action, $kind);
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
                self.counter.count("WaitClbTask", Kind::Read);
                self.inner.wait_clb_task(region, request_id, deadline).await
            }
        }
    };
}

counted! {
    create_listener => "CreateListener", Kind::Write,
        clb::CreateListenerRequest, clb::CreateListenerResponse;
    delete_listener => "DeleteListener", Kind::Write,
        clb::DeleteListenerRequest, clb::DeleteListenerResponse;
    delete_load_balancer_listeners => "DeleteLoadBalancerListeners", Kind::Write,
        clb::DeleteLoadBalancerListenersRequest, clb::DeleteLoadBalancerListenersResponse;
    describe_listeners => "DescribeListeners", Kind::Read,
        clb::DescribeListenersRequest, clb::DescribeListenersResponse;
    modify_listener => "ModifyListener", Kind::Write,
        clb::ModifyListenerRequest, clb::ModifyListenerResponse;
    register_targets => "RegisterTargets", Kind::Write,
        clb::RegisterTargetsRequest, clb::RegisterTargetsResponse;
    deregister_targets => "DeregisterTargets", Kind::Write,
        clb::DeregisterTargetsRequest, clb::DeregisterTargetsResponse;
    batch_register_targets => "BatchRegisterTargets", Kind::Write,
        clb::BatchRegisterTargetsRequest, clb::BatchRegisterTargetsResponse;
    batch_deregister_targets => "BatchDeregisterTargets", Kind::Write,
        clb::BatchDeregisterTargetsRequest, clb::BatchDeregisterTargetsResponse;
    describe_targets => "DescribeTargets", Kind::Read,
        clb::DescribeTargetsRequest, clb::DescribeTargetsResponse;
    describe_load_balancers => "DescribeLoadBalancers", Kind::Read,
        clb::DescribeLoadBalancersRequest, clb::DescribeLoadBalancersResponse;
    create_load_balancer => "CreateLoadBalancer", Kind::Write,
        clb::CreateLoadBalancerRequest, clb::CreateLoadBalancerResponse;
    delete_load_balancer => "DeleteLoadBalancer", Kind::Write,
        clb::DeleteLoadBalancerRequest, clb::DeleteLoadBalancerResponse;
    describe_quota => "DescribeQuota", Kind::Read,
        clb::DescribeQuotaRequest, clb::DescribeQuotaResponse;
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
