//! The controller's config: a YAML or TOML file (`--config PATH`) with environment overrides.
//!
//! Keys are camelCase in the file. Any key can be overridden by an environment variable named
//! `DAC_` + the key path in UPPER_SNAKE_CASE with `__` between levels (only variables under the
//! config's own sections count: a Pod's environment also holds the CLI's `DAC_CONFIG` and the
//! service-link variables of every Service named `dac-...`):
//! `DAC_CLUSTER__REGION=ap-guangzhou`, `DAC_PROVIDERS__NATGW__ENABLED=true`,
//! `DAC_CLUSTER__VPC_CIDRS=10.0.0.0/16,172.16.0.0/16` (lists: comma-separated). The variable's
//! words become camelCase (`VPC_CIDRS` -> `vpcCidrs`), so a custom provider's section is only
//! reachable from the environment when its name has no dashes.
//!
//! `deploy/config.yaml` is the documented example; a test loads it.

mod cidr;
mod duration;
#[cfg(test)]
mod tests;

pub use cidr::Cidr;
pub use duration::parse_duration;

use ::config::{Case, Config, Environment, File, FileFormat, Source};
use serde::Deserialize;
use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::IpAddr,
    path::Path,
    time::Duration,
};

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "DAC";
/// The config's top-level sections: only `DAC_<SECTION>__...` variables override the file.
const SECTIONS: [&str; 6] = [
    "CLUSTER",
    "KUBERNETES",
    "CLOUD",
    "PROVIDERS",
    "SWEEP",
    "ACCESS",
];
/// Cluster ids that documentation and examples use; two clusters left at one would sweep each
/// other's resources, so they are refused.
const PLACEHOLDER_CLUSTER_IDS: [&str; 4] = ["cls-example", "cls-xxx", "cls-xxxxxxxx", "example"];
/// Built-in provider names, as `spec.provider` spells them.
pub const CLB: &str = "clb";
pub const NATGW: &str = "natgw";
pub const EIP: &str = "eip";

/// Loading failed, or the result makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading the config: {0}")]
    Load(#[from] ::config::ConfigError),
    #[error("invalid config: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// Everything the controller reads at startup.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControllerConfig {
    #[serde(default)]
    pub cluster: ClusterConfig,
    #[serde(default)]
    pub kubernetes: KubernetesConfig,
    #[serde(default)]
    pub cloud: CloudConfig,
    #[serde(default)]
    pub providers: ProvidersConfig,
    #[serde(default)]
    pub sweep: SweepConfig,
    #[serde(default)]
    pub access: AccessConfig,
}

/// How the controller talks to the API server.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesConfig {
    /// The controller's API server requests in flight at once (watches count only until they
    /// are answered); more wait their turn. A fleet scaling down would otherwise send
    /// thousands at once, and the API server would answer everyone late, the leader Lease's
    /// renewal too (which has a client of its own, outside this limit).
    #[serde(default = "defaults::max_requests_in_flight")]
    pub max_requests_in_flight: usize,
    /// Reconciles of one kind running at once; more wait their turn. Each one in flight holds
    /// about 9 KiB while it waits for the cloud (a CLB round takes seconds). Below a fleet's
    /// size it splits a CLB's batch: 1,000 for 4,800 new listeners took 65.6 s and 1,665
    /// cloud writes, against 33.9 s and 316 unbounded (hack/bench.sh --fleet clb).
    #[serde(default = "defaults::max_reconciles_in_flight")]
    pub max_reconciles_in_flight: u16,
}

impl Default for KubernetesConfig {
    fn default() -> Self {
        Self {
            max_requests_in_flight: defaults::max_requests_in_flight(),
            max_reconciles_in_flight: defaults::max_reconciles_in_flight(),
        }
    }
}

/// The orphan sweep: releases cloud resources carrying this cluster's marker that no listener
/// claims any more.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SweepConfig {
    /// How often it runs (also once when the controller starts leading), e.g. `10m`.
    #[serde(
        default = "defaults::sweep_interval",
        deserialize_with = "duration::deserialize"
    )]
    pub interval: Duration,
    /// At most this many releases per run; the rest wait for the next run. A safety valve: a
    /// sweep that suddenly finds hundreds of orphans is more likely looking at the wrong thing.
    #[serde(default = "defaults::sweep_max_releases")]
    pub max_releases_per_run: u32,
    /// Only report what would be released (log + metrics), release nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            interval: defaults::sweep_interval(),
            max_releases_per_run: defaults::sweep_max_releases(),
            dry_run: false,
        }
    }
}

/// Who may name which frontends. Without rules every namespace may name any frontend of the
/// account, which is fine for a single-team cluster; a shared cluster lists what each namespace
/// may use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessConfig {
    /// A frontend (CLB, NAT gateway) named by a resource must match one rule that applies to
    /// the resource's namespace. Empty: no restriction.
    #[serde(default)]
    pub frontends: Vec<FrontendRule>,
}

/// One allow rule: frontends by id and/or by a cloud tag, for some namespaces or all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendRule {
    /// A name for messages ("not allowed by any rule; rules for namespace x: team-a").
    #[serde(default)]
    pub name: Option<String>,
    /// The namespaces the rule applies to; empty: all.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Frontend ids (`lb-...`, `nat-...`) it allows.
    #[serde(default)]
    pub ids: Vec<String>,
    /// A cloud tag that marks allowed frontends (`{key: dac-allowed, value: "true"}`); a value
    /// of `None` matches any value of the key.
    #[serde(default)]
    pub tag: Option<TagRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagRule {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// This cluster's place in the cloud.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// Marks everything this controller creates in the cloud (e.g. the TKE cluster id
    /// `cls-xxxxxxxx`), so that orphan cleanup never touches another cluster's resources in a
    /// shared account. Required; 1-20 of `[A-Za-z0-9-]` (it goes into cloud resource names, which
    /// are short: CLB listener names take at most 80 characters).
    #[serde(default)]
    pub id: String,
    /// The default region of CLBs, NAT gateways and EIPs, e.g. `ap-guangzhou`. Required.
    #[serde(default)]
    pub region: String,
    /// The VPC's CIDR blocks. Pods whose IP is outside all of them (overlay IPs) cannot be bound
    /// directly; they get a condition telling how to give them an ENI IP. Empty: not checked.
    #[serde(default)]
    pub vpc_cidrs: Vec<Cidr>,
}

impl ClusterConfig {
    /// Whether a Pod with this IP can be a cloud target (`true` when no CIDRs are configured).
    pub fn is_vpc_ip(&self, ip: IpAddr) -> bool {
        self.vpc_cidrs.is_empty() || self.vpc_cidrs.iter().any(|cidr| cidr.contains(ip))
    }
}

/// How the controller talks to the cloud.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudConfig {
    /// One endpoint for every service (e.g. the local emulator, `http://127.0.0.1:9000`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Per-service endpoints (`clb`, `vpc`), overriding `endpoint` and the public ones.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    #[serde(default)]
    pub credentials: CredentialsConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    #[serde(default)]
    pub retry: RetryConfig,
    /// Timeout of one API request, in milliseconds.
    #[serde(default = "defaults::request_timeout_ms")]
    pub request_timeout_ms: u64,
}

impl Default for CloudConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            endpoints: BTreeMap::new(),
            credentials: CredentialsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            retry: RetryConfig::default(),
            request_timeout_ms: defaults::request_timeout_ms(),
        }
    }
}

/// Where the API credentials come from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "source", rename_all = "camelCase")]
pub enum CredentialsConfig {
    /// `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY` and, for temporary credentials,
    /// `TENCENTCLOUD_SESSION_TOKEN`.
    #[default]
    Env,
    /// Files `secretId`, `secretKey` and optionally `sessionToken` in `dir` (a mounted Secret),
    /// re-read when they change so that a rotated Secret needs no restart.
    Files { dir: String },
}

/// Client-side rate limits, so that the controller stays under the cloud's per-action limits
/// instead of being throttled.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests per second of each action without an override; 0 disables limiting.
    #[serde(default = "defaults::requests_per_second")]
    pub default_per_second: f64,
    /// Requests that may go out at once after a quiet spell.
    #[serde(default = "defaults::burst")]
    pub burst: u32,
    /// Requests per second by action name, e.g. `AssociateAddress: 10`.
    #[serde(default = "defaults::per_action")]
    pub per_action: BTreeMap<String, f64>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            default_per_second: defaults::requests_per_second(),
            burst: defaults::burst(),
            per_action: defaults::per_action(),
        }
    }
}

/// Retries of failed API calls inside the client (throttling, a locked instance); the
/// reconcile loop retries on top of that.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first one included; 1 disables retries.
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// Bound of the first backoff, in milliseconds; doubles with every attempt.
    #[serde(default = "defaults::base_delay_ms")]
    pub base_delay_ms: u64,
    /// The backoff never grows beyond this, in milliseconds.
    #[serde(default = "defaults::max_delay_ms")]
    pub max_delay_ms: u64,
    /// How long a call keeps retrying while the cloud says the instance is busy (a CLB locked
    /// by a running task), in milliseconds; busy answers do not count as attempts. The cloud
    /// can hold a CLB for seconds after a large batch.
    #[serde(default = "defaults::busy_budget_ms")]
    pub busy_budget_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: defaults::max_attempts(),
            base_delay_ms: defaults::base_delay_ms(),
            max_delay_ms: defaults::max_delay_ms(),
            busy_budget_ms: defaults::busy_budget_ms(),
        }
    }
}

/// Which providers are enabled, and their settings.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvidersConfig {
    #[serde(default)]
    pub clb: ClbConfig,
    #[serde(default)]
    pub natgw: NatgwConfig,
    #[serde(default)]
    pub eip: EipConfig,
    /// Sections of custom providers, by provider name, passed to them as they are. A custom
    /// provider built into the binary is enabled unless its section says `enabled: false`.
    #[serde(flatten)]
    pub custom: BTreeMap<String, serde_json::Value>,
}

/// The `clb` provider: a CLB listener per Pod port.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClbConfig {
    /// On by default: seed 000's resources name no provider and mean this one.
    #[serde(default = "defaults::enabled")]
    pub enabled: bool,
    /// Listeners per CLB instance; default what DescribeQuota reports (50 unless raised).
    #[serde(default)]
    pub listener_quota: Option<u32>,
    /// How long listener and target writes for one CLB are collected into one call, in
    /// milliseconds (the cloud locks the instance for every write).
    #[serde(default = "defaults::batch_window_ms")]
    pub batch_window_ms: u64,
}

impl Default for ClbConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listener_quota: None,
            batch_window_ms: defaults::batch_window_ms(),
        }
    }
}

/// The `natgw` provider: a DNAT rule per Pod port on a pool of NAT gateways.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NatgwConfig {
    #[serde(default)]
    pub enabled: bool,
    /// The gateways rules may be placed on; a resource may narrow them with `natGatewayIds`.
    #[serde(default)]
    pub gateways: Vec<NatGatewayConfig>,
    /// How long rule writes for one gateway are collected into one call, in milliseconds.
    #[serde(default = "defaults::batch_window_ms")]
    pub batch_window_ms: u64,
    /// DNAT rules per gateway, where the account's limit was raised; default 200 (the cloud
    /// reports it nowhere).
    #[serde(default)]
    pub rule_limit: Option<u32>,
}

impl Default for NatgwConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            gateways: Vec::new(),
            batch_window_ms: defaults::batch_window_ms(),
            rule_limit: None,
        }
    }
}

/// One NAT gateway of the pool.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NatGatewayConfig {
    /// `nat-xxxxxxxx`.
    pub id: String,
    /// Default the cluster's region.
    #[serde(default)]
    pub region: Option<String>,
    /// The gateway's EIPs that rules may use; empty: all of them (read from the cloud).
    #[serde(default)]
    pub eips: Vec<String>,
    /// The public ports rules may use on each EIP, inclusive.
    pub min_port: u16,
    pub max_port: u16,
}

/// The `eip` provider: an EIP per Pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EipConfig {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub pool: EipPoolConfig,
    /// What happens to a Pod's EIP when the Pod goes; a resource may override it.
    #[serde(default)]
    pub retention: EipRetention,
}

/// Unbound EIPs kept warm, so that scaling reuses addresses instead of allocating new ones
/// against the daily allocation limit (and idle ones do not pile up and cost money).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EipPoolConfig {
    /// Unbound EIPs to keep at least.
    #[serde(default)]
    pub min: u32,
    /// Unbound EIPs to keep at most; more are released.
    #[serde(default = "defaults::pool_max")]
    pub max: u32,
}

impl Default for EipPoolConfig {
    fn default() -> Self {
        Self {
            min: 0,
            max: defaults::pool_max(),
        }
    }
}

/// What happens to a Pod's EIP when the Pod goes away. Written as
/// `{policy: Release}`, `{policy: KeepFor, duration: 30m}` or `{policy: KeepWhileNameExists}`,
/// as in the CRD's `spec.eip.retention`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawEipRetention")]
pub enum EipRetention {
    /// Disassociate it and release it (to the warm pool when there is room).
    #[default]
    Release,
    /// Keep it for the Pod's name this long.
    KeepFor(Duration),
    /// Keep it while a Pod of that name is expected (a StatefulSet ordinal below replicas).
    KeepWhileNameExists,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawEipRetention {
    policy: String,
    #[serde(default)]
    duration: Option<String>,
}

impl TryFrom<RawEipRetention> for EipRetention {
    type Error = String;

    fn try_from(raw: RawEipRetention) -> Result<Self, Self::Error> {
        match (raw.policy.as_str(), raw.duration) {
            ("Release", None) => Ok(Self::Release),
            ("KeepWhileNameExists", None) => Ok(Self::KeepWhileNameExists),
            ("KeepFor", Some(duration)) => parse_duration(&duration).map(Self::KeepFor),
            ("KeepFor", None) => Err("retention policy KeepFor needs a duration".into()),
            ("Release" | "KeepWhileNameExists", Some(_)) => {
                Err(format!("retention policy {} takes no duration", raw.policy))
            }
            (other, _) => Err(format!(
                "unknown retention policy {other:?}: expected Release, KeepFor or KeepWhileNameExists"
            )),
        }
    }
}

mod defaults {
    use std::collections::BTreeMap;
    use std::time::Duration;

    pub fn enabled() -> bool {
        true
    }
    pub fn batch_window_ms() -> u64 {
        200
    }
    pub fn max_requests_in_flight() -> usize {
        32
    }
    pub fn max_reconciles_in_flight() -> u16 {
        5000
    }
    pub fn pool_max() -> u32 {
        10
    }
    pub fn request_timeout_ms() -> u64 {
        10_000
    }
    pub fn requests_per_second() -> f64 {
        20.0
    }
    pub fn burst() -> u32 {
        1
    }
    pub fn sweep_interval() -> Duration {
        Duration::from_secs(600)
    }
    pub fn sweep_max_releases() -> u32 {
        50
    }
    pub fn per_action() -> BTreeMap<String, f64> {
        // Its documented limit is below the default.
        BTreeMap::from([("AssociateAddress".to_string(), 10.0)])
    }
    pub fn max_attempts() -> u32 {
        6
    }
    pub fn base_delay_ms() -> u64 {
        200
    }
    pub fn max_delay_ms() -> u64 {
        8_000
    }
    pub fn busy_budget_ms() -> u64 {
        20_000
    }
}

impl ControllerConfig {
    /// Reads `path` (YAML or TOML, by its extension) when given, then the `DAC_<SECTION>__*`
    /// environment variables, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        Self::build(
            path.map(File::from),
            environment(std::env::vars().collect()),
        )
    }

    /// Like [`load`](Self::load) with the file's text and an explicit environment: for tests.
    pub fn load_from_str(
        text: &str,
        format: FileFormat,
        env: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        Self::build(Some(File::from_str(text, format)), environment(env))
    }

    fn build(
        file: Option<impl Source + Send + Sync + 'static>,
        env: Environment,
    ) -> Result<Self, ConfigError> {
        let mut builder = Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(file);
        }
        let config: Self = builder.add_source(env).build()?.try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    /// Every problem at once, so that a user fixes their file in one go.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.kubernetes.max_requests_in_flight == 0 {
            problems.push("kubernetes.maxRequestsInFlight must be at least 1".to_string());
        }
        if self.kubernetes.max_reconciles_in_flight == 0 {
            problems.push("kubernetes.maxReconcilesInFlight must be at least 1".to_string());
        }
        let cluster = &self.cluster;
        if cluster.id.is_empty() {
            problems.push(
                "cluster.id is required: it marks what this controller creates in the cloud (e.g. the TKE cluster id)"
                    .to_string(),
            );
        } else if PLACEHOLDER_CLUSTER_IDS.contains(&cluster.id.to_ascii_lowercase().as_str()) {
            problems.push(format!(
                "cluster.id {:?} is a placeholder from the documentation: two clusters left at it would take each other's cloud resources for orphans; use this cluster's own id (e.g. the TKE cluster id)",
                cluster.id
            ));
        } else if cluster.id.len() > 20
            || !cluster
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            problems.push(format!(
                "cluster.id {:?} must be 1-20 letters, digits or dashes",
                cluster.id
            ));
        }
        if cluster.region.is_empty() {
            problems.push("cluster.region is required (e.g. ap-guangzhou)".to_string());
        }

        let cloud = &self.cloud;
        for (service, url) in cloud.endpoint.iter().map(|url| ("endpoint", url)).chain(
            cloud
                .endpoints
                .iter()
                .map(|(service, url)| (service.as_str(), url)),
        ) {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!(
                    "cloud endpoint {service}: {url:?} must start with http:// or https://"
                ));
            }
        }
        if let CredentialsConfig::Files { dir } = &cloud.credentials
            && dir.is_empty()
        {
            problems.push("cloud.credentials.dir is required with source files".to_string());
        }
        if cloud.rate_limit.default_per_second < 0.0
            || cloud.rate_limit.per_action.values().any(|rate| *rate < 0.0)
        {
            problems.push("cloud.rateLimit rates must not be negative".to_string());
        }
        if cloud.rate_limit.burst == 0 {
            problems.push("cloud.rateLimit.burst must be at least 1".to_string());
        }
        if cloud.retry.max_attempts == 0 {
            problems.push("cloud.retry.maxAttempts must be at least 1".to_string());
        }
        if cloud.retry.base_delay_ms > cloud.retry.max_delay_ms {
            problems.push("cloud.retry.baseDelayMs must not exceed maxDelayMs".to_string());
        }

        let providers = &self.providers;
        if providers.clb.listener_quota == Some(0) {
            problems.push("providers.clb.listenerQuota must be at least 1".to_string());
        }
        let natgw = &providers.natgw;
        if natgw.enabled && natgw.gateways.is_empty() {
            problems.push("providers.natgw is enabled but lists no gateways".to_string());
        }
        let mut gateway_ids = BTreeSet::new();
        for gateway in &natgw.gateways {
            if gateway.id.is_empty() {
                problems.push("providers.natgw.gateways: every gateway needs an id".to_string());
            } else if !gateway_ids.insert(gateway.id.as_str()) {
                problems.push(format!(
                    "providers.natgw.gateways: {} is listed twice",
                    gateway.id
                ));
            }
            if gateway.min_port == 0 || gateway.min_port > gateway.max_port {
                problems.push(format!(
                    "providers.natgw.gateways {}: ports must satisfy 1 <= minPort <= maxPort, got {}-{}",
                    gateway.id, gateway.min_port, gateway.max_port
                ));
            }
        }
        let pool = &providers.eip.pool;
        if pool.min > pool.max {
            problems.push(format!(
                "providers.eip.pool: min {} exceeds max {}",
                pool.min, pool.max
            ));
        }
        if self.sweep.interval < Duration::from_secs(10) {
            problems.push("sweep.interval must be at least 10s".to_string());
        }
        for (index, rule) in self.access.frontends.iter().enumerate() {
            let name = rule
                .name
                .clone()
                .unwrap_or_else(|| format!("#{}", index + 1));
            if rule.ids.is_empty() && rule.tag.is_none() {
                problems.push(format!(
                    "access.frontends rule {name}: give ids, a tag, or both"
                ));
            }
            if rule.tag.as_ref().is_some_and(|tag| tag.key.is_empty()) {
                problems.push(format!("access.frontends rule {name}: tag.key is empty"));
            }
        }
        for (name, section) in &providers.custom {
            if !is_dns_label(name) {
                problems.push(format!(
                    "providers.{name}: a provider name is a DNS label (lowercase letters, digits, dashes)"
                ));
            }
            if let Some(enabled) = section.get("enabled")
                && !enabled.is_boolean()
            {
                problems.push(format!("providers.{name}.enabled must be true or false"));
            }
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Whether `spec.provider: name` may be served: a built-in that is enabled, or a custom
    /// provider whose section does not disable it (whether it is compiled in is the registry's
    /// business).
    pub fn is_enabled(&self, name: &str) -> bool {
        let providers = &self.providers;
        match name {
            CLB => providers.clb.enabled,
            NATGW => providers.natgw.enabled,
            EIP => providers.eip.enabled,
            custom => providers
                .custom
                .get(custom)
                .and_then(|section| section.get("enabled"))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true),
        }
    }

    /// A custom provider's section, as written.
    pub fn custom_section(&self, name: &str) -> Option<&serde_json::Value> {
        self.providers.custom.get(name)
    }
}

/// `DAC_SECTION__KEY_WORDS=value` -> `section.keyWords`, for the config's own sections only:
/// any other `DAC_*` variable (the CLI's `DAC_CONFIG`, Kubernetes' service links such as
/// `DAC_DEDICATED_ADDRESS_CONTROLLER_METRICS_PORT`) is none of the config's business.
fn environment(env: HashMap<String, String>) -> Environment {
    let env = env
        .into_iter()
        .filter(|(name, _)| {
            SECTIONS
                .iter()
                .any(|section| name.starts_with(&format!("{ENV_PREFIX}_{section}__")))
        })
        .collect();
    Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("_")
        .separator("__")
        .convert_case(Case::Camel)
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("cluster.vpcCidrs")
        .source(Some(env))
}

/// RFC 1123 label: what `spec.provider` accepts.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}
