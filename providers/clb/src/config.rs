//! The provider's configuration, as it appears in the controller's config file (camelCase).
use std::time::Duration;

use dac_provider_support::config::{OutOfRange, within};
use dac_provider_support::marker::Charset;
use serde::{Deserialize, Serialize};

use crate::marker;

/// Settings of the `clb` provider. Every field has a default except `region` and `clusterId`,
/// which [`ClbProvider::new`](crate::ClbProvider::new) requires.
///
/// Unknown fields are ignored rather than refused so that the controller can `#[serde(flatten)]`
/// this into its own provider section (next to e.g. `enabled`); that outer struct is where typos
/// are caught.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClbProviderConfig {
    /// Region of bindings and scopes that name none (the cluster's region).
    pub region: String,
    /// Identifies this cluster in listener names, so that two clusters sharing an account never
    /// take each other's listeners for their own: 1-20 of `[A-Za-z0-9-]`.
    pub cluster_id: String,
    /// The one namespace the controller serves (`--namespace`); `None` when it serves all.
    /// Listeners whose marker names another namespace are then never used or released, and a
    /// binding whose port one of them holds is a `PortConflict` instead of a wait for a
    /// release that this controller would never make.
    pub namespace: Option<String>,
    /// How long a CLB's worker waits after the latest job for another before it starts a round
    /// (at most ten windows after the first job). Every write locks the instance for a while,
    /// so many small writes are far slower than one batched write; the window trades this much
    /// latency for that.
    pub batch_window_ms: u64,
    /// A round starts early once this many jobs are waiting.
    pub max_batch_jobs: usize,
    /// Ports per CreateListener call; the cloud takes at most 49.
    pub max_ports_per_create: usize,
    /// How long a round waits for a write task (CreateListener, DeleteLoadBalancerListeners)
    /// before it answers Pending and moves on.
    pub task_deadline_ms: u64,
    /// Listeners per CLB instance; default what DescribeQuota reports (`TOTAL_LISTENER_QUOTA`).
    pub listener_quota: Option<u32>,
    /// How long CLB VIPs (DescribeLoadBalancers) are reused.
    pub load_balancer_cache_ttl_ms: u64,
    /// How long the listener quota (DescribeQuota) is reused.
    pub quota_cache_ttl_ms: u64,
    /// How long the count of listeners that are not ours (DescribeListeners) is reused for
    /// capacity; rounds refresh it for free.
    pub listener_count_cache_ttl_ms: u64,
}

impl Default for ClbProviderConfig {
    fn default() -> Self {
        Self {
            region: String::new(),
            cluster_id: String::new(),
            namespace: None,
            batch_window_ms: 150,
            max_batch_jobs: 500,
            max_ports_per_create: MAX_PORTS_PER_CREATE,
            task_deadline_ms: 30_000,
            listener_quota: None,
            load_balancer_cache_ttl_ms: 60_000,
            quota_cache_ttl_ms: 300_000,
            listener_count_cache_ttl_ms: 10_000,
        }
    }
}

/// The cloud's limit of ports per CreateListener call: it refuses 50 ("Length of .Ports should
/// be less than 50").
pub const MAX_PORTS_PER_CREATE: usize = 49;

/// A configuration the provider cannot work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("providers.clb.region must not be empty")]
    MissingRegion,
    #[error("providers.clb.clusterId {0:?} must be 1-{max} of [A-Za-z0-9-]", max = marker::MAX_CLUSTER_ID_LEN)]
    InvalidClusterId(String),
    #[error("providers.clb.namespace {0:?} is not a namespace name")]
    InvalidNamespace(String),
    /// A numeric setting out of range; the message reads as before the check was shared:
    /// `providers.clb.<field> is <value>; it must be within <min>..=<max>`.
    #[error("providers.clb.{0}")]
    OutOfRange(#[from] OutOfRange),
}

impl ClbProviderConfig {
    /// Checks what would otherwise fail at the first cloud call, or never work at all.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.region.trim().is_empty() {
            return Err(ConfigError::MissingRegion);
        }
        if !marker::valid_cluster_id(&self.cluster_id) {
            return Err(ConfigError::InvalidClusterId(self.cluster_id.clone()));
        }
        if let Some(ns) = &self.namespace
            && !Charset::DnsLabel.accepts(ns)
        {
            return Err(ConfigError::InvalidNamespace(ns.clone()));
        }
        within("batchWindowMs", self.batch_window_ms, 0, 10_000)?;
        within("maxBatchJobs", self.max_batch_jobs as u64, 1, 100_000)?;
        within(
            "maxPortsPerCreate",
            self.max_ports_per_create as u64,
            1,
            MAX_PORTS_PER_CREATE as u64,
        )?;
        within("taskDeadlineMs", self.task_deadline_ms, 100, 600_000)?;
        if let Some(quota) = self.listener_quota {
            within("listenerQuota", u64::from(quota), 1, 100_000)?;
        }
        Ok(())
    }

    pub fn batch_window(&self) -> Duration {
        Duration::from_millis(self.batch_window_ms)
    }

    pub fn task_deadline(&self) -> Duration {
        Duration::from_millis(self.task_deadline_ms)
    }

    pub fn load_balancer_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.load_balancer_cache_ttl_ms)
    }

    pub fn quota_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.quota_cache_ttl_ms)
    }

    pub fn listener_count_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.listener_count_cache_ttl_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ClbProviderConfig {
        ClbProviderConfig {
            region: "ap-guangzhou".into(),
            cluster_id: "cls-1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn reads_camel_case_with_defaults() {
        let config: ClbProviderConfig = serde_json::from_value(serde_json::json!({
            "region": "ap-chengdu",
            "clusterId": "cls-abc",
            "batchWindowMs": 50,
            "listenerQuota": 100
        }))
        .unwrap();
        assert_eq!(config.region, "ap-chengdu");
        assert_eq!(config.batch_window(), Duration::from_millis(50));
        assert_eq!(config.listener_quota, Some(100));
        assert_eq!(config.max_ports_per_create, 49);
        config.validate().unwrap();
    }

    #[test]
    fn flattens_into_a_controller_section() {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Section {
            enabled: bool,
            #[serde(flatten)]
            provider: ClbProviderConfig,
        }
        let section: Section = serde_json::from_value(serde_json::json!({
            "enabled": true, "region": "ap-guangzhou", "clusterId": "cls-1", "taskDeadlineMs": 5000
        }))
        .unwrap();
        assert!(section.enabled);
        assert_eq!(section.provider.task_deadline(), Duration::from_secs(5));
        section.provider.validate().unwrap();
    }

    #[test]
    fn refuses_what_cannot_work() {
        valid().validate().unwrap();
        let no_region = ClbProviderConfig {
            region: " ".into(),
            ..valid()
        };
        assert_eq!(no_region.validate(), Err(ConfigError::MissingRegion));
        let bad_cluster = ClbProviderConfig {
            cluster_id: "my_cluster".into(),
            ..valid()
        };
        assert!(matches!(
            bad_cluster.validate(),
            Err(ConfigError::InvalidClusterId(_))
        ));
        let bad_namespace = ClbProviderConfig {
            namespace: Some("Team_A".into()),
            ..valid()
        };
        assert!(matches!(
            bad_namespace.validate(),
            Err(ConfigError::InvalidNamespace(_))
        ));
        ClbProviderConfig {
            namespace: Some("team-a".into()),
            ..valid()
        }
        .validate()
        .unwrap();
        let too_many_ports = ClbProviderConfig {
            max_ports_per_create: 50,
            ..valid()
        };
        let err = too_many_ports.validate().unwrap_err();
        assert!(err.to_string().contains("maxPortsPerCreate"), "{err}");
        // The same words as before the range check was shared.
        assert_eq!(
            err.to_string(),
            "providers.clb.maxPortsPerCreate is 50; it must be within 1..=49"
        );
    }
}
