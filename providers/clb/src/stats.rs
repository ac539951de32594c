//! Counts of cloud calls by action, so that tests, benchmarks and the controller's metrics can
//! say how many writes a binding costs. The counter wraps the [`ClbApi`] the provider uses, so
//! every call the provider makes is counted once, whatever its outcome (retries inside the
//! client are not visible here and not counted).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use dac_tencentcloud::models::clb;
use dac_tencentcloud::{ClbApi, Result};
use tokio::time::Instant;

/// The actions the provider calls, in a fixed order (an array index each).
const ACTIONS: [(&str, bool); 15] = [
    ("CreateListener", true),
    ("DeleteListener", true),
    ("DeleteLoadBalancerListeners", true),
    ("RegisterTargets", true),
    ("DeregisterTargets", true),
    ("BatchRegisterTargets", true),
    ("BatchDeregisterTargets", true),
    ("CreateLoadBalancer", true),
    ("DeleteLoadBalancer", true),
    ("DescribeListeners", false),
    ("DescribeTargets", false),
    ("DescribeLoadBalancers", false),
    ("DescribeQuota", false),
    ("DescribeTaskStatus", false),
    // One wait for a task; the polls it makes inside the client are not counted separately.
    ("WaitClbTask", false),
];

fn index(action: &str) -> usize {
    ACTIONS
        .iter()
        .position(|(a, _)| *a == action)
        .expect("every counted action is listed")
}

/// A snapshot of the calls made so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClbStats {
    /// Calls that change the cloud, by action (only actions called at least once).
    pub writes: BTreeMap<String, u64>,
    /// Calls that only read, by action (only actions called at least once).
    pub reads: BTreeMap<String, u64>,
    /// Batching rounds run by the per-CLB workers.
    pub rounds: u64,
}

impl ClbStats {
    pub fn total_writes(&self) -> u64 {
        self.writes.values().sum()
    }

    pub fn total_reads(&self) -> u64 {
        self.reads.values().sum()
    }

    pub fn writes_of(&self, action: &str) -> u64 {
        self.writes.get(action).copied().unwrap_or(0)
    }

    pub fn reads_of(&self, action: &str) -> u64 {
        self.reads.get(action).copied().unwrap_or(0)
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &ClbStats) -> ClbStats {
        let diff = |now: &BTreeMap<String, u64>, then: &BTreeMap<String, u64>| {
            now.iter()
                .map(|(k, v)| (k.clone(), v - then.get(k).copied().unwrap_or(0)))
                .filter(|(_, v)| *v > 0)
                .collect()
        };
        ClbStats {
            writes: diff(&self.writes, &earlier.writes),
            reads: diff(&self.reads, &earlier.reads),
            rounds: self.rounds - earlier.rounds,
        }
    }
}

impl std::fmt::Display for ClbStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} writes {:?}, {} reads {:?}, {} rounds",
            self.total_writes(),
            self.writes,
            self.total_reads(),
            self.reads,
            self.rounds
        )
    }
}

/// A [`ClbApi`] that counts the calls it passes on.
pub(crate) struct CountingClbApi {
    inner: Arc<dyn ClbApi>,
    counts: [AtomicU64; ACTIONS.len()],
    rounds: AtomicU64,
}

impl CountingClbApi {
    pub fn new(inner: Arc<dyn ClbApi>) -> Self {
        Self {
            inner,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            rounds: AtomicU64::new(0),
        }
    }

    fn count(&self, action: &str) {
        self.counts[index(action)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_round(&self) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ClbStats {
        let mut stats = ClbStats {
            rounds: self.rounds.load(Ordering::Relaxed),
            ..Default::default()
        };
        for ((action, write), count) in ACTIONS.iter().zip(&self.counts) {
            let n = count.load(Ordering::Relaxed);
            if n > 0 {
                let map = if *write {
                    &mut stats.writes
                } else {
                    &mut stats.reads
                };
                map.insert((*action).to_string(), n);
            }
        }
        stats
    }
}

/// Forwards each method to the wrapped API after counting it under `$action`.
macro_rules! counted {
    ($( $method:ident => $action:literal, $req:ty, $resp:ty; )*) => {
        #[async_trait]
        impl ClbApi for CountingClbApi {
            $(
                async fn $method(&self, region: &str, req: &$req) -> Result<$resp> {
                    self.count($action);
                    self.inner.$method(region, req).await
                }
            )*

            async fn wait_clb_task(
                &self,
                region: &str,
                request_id: &str,
                deadline: Instant,
            ) -> Result<clb::DescribeTaskStatusResponse> {
                self.count("WaitClbTask");
                self.inner.wait_clb_task(region, request_id, deadline).await
            }
        }
    };
}

counted! {
    create_listener => "CreateListener", clb::CreateListenerRequest, clb::CreateListenerResponse;
    delete_listener => "DeleteListener", clb::DeleteListenerRequest, clb::DeleteListenerResponse;
    delete_load_balancer_listeners => "DeleteLoadBalancerListeners",
        clb::DeleteLoadBalancerListenersRequest, clb::DeleteLoadBalancerListenersResponse;
    describe_listeners => "DescribeListeners",
        clb::DescribeListenersRequest, clb::DescribeListenersResponse;
    register_targets => "RegisterTargets", clb::RegisterTargetsRequest, clb::RegisterTargetsResponse;
    deregister_targets => "DeregisterTargets",
        clb::DeregisterTargetsRequest, clb::DeregisterTargetsResponse;
    batch_register_targets => "BatchRegisterTargets",
        clb::BatchRegisterTargetsRequest, clb::BatchRegisterTargetsResponse;
    batch_deregister_targets => "BatchDeregisterTargets",
        clb::BatchDeregisterTargetsRequest, clb::BatchDeregisterTargetsResponse;
    describe_targets => "DescribeTargets", clb::DescribeTargetsRequest, clb::DescribeTargetsResponse;
    describe_load_balancers => "DescribeLoadBalancers",
        clb::DescribeLoadBalancersRequest, clb::DescribeLoadBalancersResponse;
    create_load_balancer => "CreateLoadBalancer",
        clb::CreateLoadBalancerRequest, clb::CreateLoadBalancerResponse;
    delete_load_balancer => "DeleteLoadBalancer",
        clb::DeleteLoadBalancerRequest, clb::DeleteLoadBalancerResponse;
    describe_quota => "DescribeQuota", clb::DescribeQuotaRequest, clb::DescribeQuotaResponse;
    describe_task_status => "DescribeTaskStatus",
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
