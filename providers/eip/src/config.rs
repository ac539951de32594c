//! The provider's configuration, and the retention policy that a resource may override.
use std::time::Duration;

use dac_provider_support::config::{OutOfRange, within};
use serde::{Deserialize, Serialize};

use crate::marker;

/// Settings of the `eip` provider. Every field has a default except `region` and `clusterId`,
/// which [`EipProvider::new`](crate::EipProvider::new) requires.
///
/// The controller's own `providers.eip` section (`enabled`, `pool`, `retention`) maps onto this
/// field by field; the timing knobs below exist for tests and for clouds that are slower than
/// usual, and rarely need changing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EipProviderConfig {
    /// Region of bindings and scopes that name none (the cluster's region).
    pub region: String,
    /// Identifies this cluster in EIP names, so that two clusters sharing an account never take
    /// each other's EIPs for their own: 1-20 of `[A-Za-z0-9-]`.
    pub cluster_id: String,
    /// Unbound EIPs kept warm for the next Pods.
    pub pool: PoolLimits,
    /// What happens to a Pod's EIP when its last binding is released; a resource may override
    /// it in its options (`{"retention": {...}}`).
    pub retention: Retention,
    /// AllocateAddresses `InternetChargeType` (e.g. `TRAFFIC_POSTPAID_BY_HOUR`); default the
    /// account's.
    pub internet_charge_type: Option<String>,
    /// AllocateAddresses `InternetMaxBandwidthOut` in Mbit/s; default the account's.
    pub internet_max_bandwidth_out: Option<i64>,
    /// How long a call waits for an EIP task (allocate, associate, ...) before it answers
    /// Pending (ensure) or Retryable (release) and lets the controller ask again.
    pub task_deadline_ms: u64,
    /// How long a full listing of this cluster's EIPs is reused to find pool EIPs and EIPs left
    /// bound to a Pod's IP. Our own writes keep it current; the TTL bounds how long changes made
    /// behind our back (the console) go unseen.
    pub inventory_ttl_ms: u64,
    /// How long the state of a Pod's EIP, as last read or written, is trusted without reading
    /// it again. Short, so that drift is noticed at the controller's resync, but long enough
    /// that the other ports of a Pod, ensured right after the first, cost no calls.
    pub verify_ttl_ms: u64,
    /// How long DescribeAddressQuota's answer is reused (our own allocations and releases are
    /// counted in between).
    pub quota_ttl_ms: u64,
    /// How often the background task expires kept EIPs and keeps the pool within its limits.
    pub maintenance_interval_ms: u64,
    /// How long after start `list_owned` leaves out bound EIPs that no Pod has claimed yet.
    /// After a restart the provider learns which Pod holds which EIP as the controller ensures
    /// each binding again; until every live one has been, an unclaimed bound EIP may well be a
    /// live Pod's, and releasing it would cut the Pod off. Longer than the controller's resync.
    pub orphan_grace_ms: u64,
}

impl Default for EipProviderConfig {
    fn default() -> Self {
        Self {
            region: String::new(),
            cluster_id: String::new(),
            pool: PoolLimits::default(),
            retention: Retention::Release,
            internet_charge_type: None,
            internet_max_bandwidth_out: None,
            task_deadline_ms: 30_000,
            inventory_ttl_ms: 30_000,
            verify_ttl_ms: 2_000,
            quota_ttl_ms: 30_000,
            maintenance_interval_ms: 10_000,
            orphan_grace_ms: 900_000,
        }
    }
}

/// The warm pool's bounds, counted in unbound EIPs that no Pod holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolLimits {
    /// Kept at least (allocated ahead of need, within the quota).
    pub min: u32,
    /// Kept at most: an EIP a Pod gives back beyond this is released, because an idle EIP is
    /// billed.
    pub max: u32,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self { min: 0, max: 10 }
    }
}

/// What happens to a Pod's EIP when the Pod's last binding is released.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRetention", into = "RawRetention")]
pub enum Retention {
    /// Disassociate it, then keep it in the warm pool if the pool has room, else release it.
    #[default]
    Release,
    /// Disassociate it and keep it for the Pod's name this long: a Pod recreated under the
    /// same name in time gets it back. Afterwards it goes the way of `Release`.
    KeepFor(Duration),
    /// Keep it while a Pod of that name is expected. The controller already keeps a
    /// StatefulSet Pod's bindings (and so never calls `release`) while its ordinal is below the
    /// replica count, so by the time `release` comes the name is no longer expected: this
    /// provider then treats it exactly as `Release`.
    KeepWhileNameExists,
}

/// The written form, as in the CRD's `spec.eip.retention`: `{policy: KeepFor, duration: 30m}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRetention {
    policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
}

impl TryFrom<RawRetention> for Retention {
    type Error = String;

    fn try_from(raw: RawRetention) -> Result<Self, Self::Error> {
        match (raw.policy.as_str(), raw.duration.as_deref()) {
            ("Release", None) => Ok(Self::Release),
            ("KeepWhileNameExists", None) => Ok(Self::KeepWhileNameExists),
            ("KeepFor", Some(text)) => parse_duration(text).map(Self::KeepFor),
            ("KeepFor", None) => Err("retention policy KeepFor needs a duration".into()),
            (policy @ ("Release" | "KeepWhileNameExists"), Some(_)) => {
                Err(format!("retention policy {policy} takes no duration"))
            }
            (other, _) => Err(format!(
                "unknown retention policy {other:?}: expected Release, KeepFor or KeepWhileNameExists"
            )),
        }
    }
}

impl From<Retention> for RawRetention {
    fn from(retention: Retention) -> Self {
        let (policy, duration) = match retention {
            Retention::Release => ("Release", None),
            Retention::KeepWhileNameExists => ("KeepWhileNameExists", None),
            Retention::KeepFor(d) if d.subsec_millis() != 0 => {
                ("KeepFor", Some(format!("{}ms", d.as_millis())))
            }
            Retention::KeepFor(d) => ("KeepFor", Some(format!("{}s", d.as_secs()))),
        };
        RawRetention {
            policy: policy.into(),
            duration,
        }
    }
}

/// Reads `500ms`, `90s`, `30m`, `12h` or `7d`: one whole number and one unit, the spelling of
/// the CRD's duration fields (which lack `ms`; tests want it).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 90s, 30m, 12h or 7d");
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let amount: u64 = text[..digits].parse().map_err(|_| bad())?;
    let millis_per_unit: u64 = match &text[digits..] {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    amount
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

/// A configuration the provider cannot work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("providers.eip.region must not be empty")]
    MissingRegion,
    #[error("providers.eip.clusterId {0:?} must be 1-{max} of [A-Za-z0-9-]", max = marker::MAX_CLUSTER_ID_LEN)]
    InvalidClusterId(String),
    #[error("providers.eip.pool: min {min} exceeds max {max}")]
    PoolMinAboveMax { min: u32, max: u32 },
    /// A numeric setting out of range; the message reads as before the check was shared:
    /// `providers.eip.<field> is <value>; it must be within <min>..=<max>`.
    #[error("providers.eip.{0}")]
    OutOfRange(#[from] OutOfRange),
}

/// The cloud's limit of AddressCount per AllocateAddresses and of ids per ReleaseAddresses.
pub const MAX_ADDRESSES_PER_CALL: u32 = 100;

impl EipProviderConfig {
    /// Checks what would otherwise fail at the first cloud call, or never work at all.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.region.trim().is_empty() {
            return Err(ConfigError::MissingRegion);
        }
        if !marker::valid_cluster_id(&self.cluster_id) {
            return Err(ConfigError::InvalidClusterId(self.cluster_id.clone()));
        }
        if self.pool.min > self.pool.max {
            return Err(ConfigError::PoolMinAboveMax {
                min: self.pool.min,
                max: self.pool.max,
            });
        }
        // Far above any account's EIP quota; a larger number is a typo.
        within("pool.max", u64::from(self.pool.max), 0, 10_000)?;
        within("taskDeadlineMs", self.task_deadline_ms, 100, 600_000)?;
        within("inventoryTtlMs", self.inventory_ttl_ms, 0, 3_600_000)?;
        within("verifyTtlMs", self.verify_ttl_ms, 0, 600_000)?;
        within("quotaTtlMs", self.quota_ttl_ms, 0, 3_600_000)?;
        within(
            "maintenanceIntervalMs",
            self.maintenance_interval_ms,
            10,
            3_600_000,
        )?;
        within("orphanGraceMs", self.orphan_grace_ms, 0, 86_400_000)?;
        Ok(())
    }

    pub fn task_deadline(&self) -> Duration {
        Duration::from_millis(self.task_deadline_ms)
    }

    pub fn inventory_ttl(&self) -> Duration {
        Duration::from_millis(self.inventory_ttl_ms)
    }

    pub fn verify_ttl(&self) -> Duration {
        Duration::from_millis(self.verify_ttl_ms)
    }

    pub fn quota_ttl(&self) -> Duration {
        Duration::from_millis(self.quota_ttl_ms)
    }

    pub fn maintenance_interval(&self) -> Duration {
        Duration::from_millis(self.maintenance_interval_ms)
    }

    pub fn orphan_grace(&self) -> Duration {
        Duration::from_millis(self.orphan_grace_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> EipProviderConfig {
        EipProviderConfig {
            region: "ap-guangzhou".into(),
            cluster_id: "cls-1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn reads_camel_case_with_defaults() {
        let config: EipProviderConfig = serde_json::from_value(json!({
            "region": "ap-chengdu",
            "clusterId": "cls-abc",
            "pool": {"min": 2, "max": 5},
            "retention": {"policy": "KeepFor", "duration": "30m"},
        }))
        .unwrap();
        assert_eq!(config.pool, PoolLimits { min: 2, max: 5 });
        assert_eq!(
            config.retention,
            Retention::KeepFor(Duration::from_secs(1800))
        );
        assert_eq!(config.task_deadline(), Duration::from_secs(30));
        config.validate().unwrap();
    }

    #[test]
    fn retention_round_trips_in_the_crd_shape() {
        for (value, want) in [
            (json!({"policy": "Release"}), Retention::Release),
            (
                json!({"policy": "KeepWhileNameExists"}),
                Retention::KeepWhileNameExists,
            ),
            (
                json!({"policy": "KeepFor", "duration": "90s"}),
                Retention::KeepFor(Duration::from_secs(90)),
            ),
            (
                json!({"policy": "KeepFor", "duration": "250ms"}),
                Retention::KeepFor(Duration::from_millis(250)),
            ),
        ] {
            let read: Retention = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(read, want);
            assert_eq!(serde_json::to_value(read).unwrap(), value);
        }
        for bad in [
            json!({"policy": "KeepFor"}),
            json!({"policy": "Release", "duration": "1m"}),
            json!({"policy": "Forever"}),
            json!({"policy": "KeepFor", "duration": "1w"}),
        ] {
            assert!(
                serde_json::from_value::<Retention>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration(" 12h "), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("5ms"), Ok(Duration::from_millis(5)));
        for bad in ["", "m", "1.5h", "-1s", "10 m", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_what_cannot_work() {
        valid().validate().unwrap();
        assert_eq!(
            EipProviderConfig {
                region: "".into(),
                ..valid()
            }
            .validate(),
            Err(ConfigError::MissingRegion)
        );
        assert!(matches!(
            EipProviderConfig {
                cluster_id: "a_b".into(),
                ..valid()
            }
            .validate(),
            Err(ConfigError::InvalidClusterId(_))
        ));
        assert_eq!(
            EipProviderConfig {
                pool: PoolLimits { min: 5, max: 2 },
                ..valid()
            }
            .validate(),
            Err(ConfigError::PoolMinAboveMax { min: 5, max: 2 })
        );
        let err = EipProviderConfig {
            task_deadline_ms: 1,
            ..valid()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("taskDeadlineMs"), "{err}");
    }
}
