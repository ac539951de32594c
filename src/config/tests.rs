use super::*;
use ::config::FileFormat;

const MINIMAL: &str = "cluster: {id: cls-test, region: ap-chengdu}\n";

fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
    vars.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_yaml(text: &str, vars: &[(&str, &str)]) -> Result<ControllerConfig, ConfigError> {
    ControllerConfig::load_from_str(text, FileFormat::Yaml, env(vars))
}

fn problems(result: Result<ControllerConfig, ConfigError>) -> Vec<String> {
    match result {
        Err(ConfigError::Invalid(problems)) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

#[test]
fn the_documented_example_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    // It ships without a cluster id on purpose: the user must give theirs.
    let missing = problems(load_yaml(&text, &[]));
    assert!(
        missing.iter().any(|p| p.contains("cluster.id is required")),
        "{missing:?}"
    );
    let config = load_yaml(&text, &[("DAC_CLUSTER__ID", "cls-a1b2c3d4")]).unwrap();
    assert_eq!(config.sweep, SweepConfig::default());
    assert_eq!(config.kubernetes, KubernetesConfig::default());
    assert!(config.access.frontends.is_empty());
    assert_eq!(config.cluster.region, "ap-guangzhou");
    assert_eq!(
        config.cluster.vpc_cidrs,
        vec!["10.0.0.0/16".parse().unwrap()]
    );
    assert_eq!(
        config.cloud.credentials,
        CredentialsConfig::Files {
            dir: "/var/run/secrets/tencentcloud".into()
        }
    );
    assert_eq!(config.cloud.rate_limit.per_action["AssociateAddress"], 10.0);
    assert!(config.providers.clb.enabled && !config.providers.natgw.enabled);
    assert_eq!(config.providers.natgw.gateways[0].max_port, 19999);
    assert_eq!(
        config.providers.eip.retention,
        EipRetention::KeepFor(Duration::from_secs(1800))
    );
    assert!(config.providers.custom.is_empty());
}

#[test]
fn a_minimal_file_gets_the_defaults() {
    let config = load_yaml(MINIMAL, &[]).unwrap();
    assert_eq!(config.cluster.id, "cls-test");
    assert!(config.cluster.vpc_cidrs.is_empty());
    assert_eq!(config.cloud.credentials, CredentialsConfig::Env);
    assert_eq!(config.cloud.rate_limit, RateLimitConfig::default());
    assert_eq!(config.cloud.retry.max_attempts, 6);
    assert_eq!(config.cloud.request_timeout_ms, 10_000);
    assert_eq!(config.providers.clb, ClbConfig::default());
    assert_eq!(config.providers.clb.batch_window_ms, 200);
    assert_eq!(config.providers.natgw.batch_window_ms, 200);
    assert!(config.is_enabled(CLB));
    assert!(!config.is_enabled(NATGW) && !config.is_enabled(EIP));
    assert_eq!(config.providers.eip.pool, EipPoolConfig { min: 0, max: 10 });
    assert_eq!(config.providers.eip.retention, EipRetention::Release);
}

#[test]
fn toml_works_too() {
    let text = r#"
[cluster]
id = "cls-test"
region = "ap-chengdu"
vpcCidrs = ["10.0.0.0/8"]

[providers.eip]
enabled = true
retention = { policy = "KeepWhileNameExists" }
"#;
    let config = ControllerConfig::load_from_str(text, FileFormat::Toml, HashMap::new()).unwrap();
    assert!(config.is_enabled(EIP));
    assert_eq!(
        config.providers.eip.retention,
        EipRetention::KeepWhileNameExists
    );
}

#[test]
fn the_environment_overrides_the_file() {
    let config = load_yaml(
        "cluster: {id: cls-test, region: ap-chengdu, vpcCidrs: [192.168.0.0/16]}\n\
         providers: {clb: {batchWindowMs: 100}}\n",
        &[
            ("DAC_CLUSTER__REGION", "ap-guangzhou"),
            ("DAC_CLUSTER__VPC_CIDRS", "10.0.0.0/16,10.1.0.0/16"),
            ("DAC_PROVIDERS__CLB__BATCH_WINDOW_MS", "50"),
            ("DAC_PROVIDERS__CLB__LISTENER_QUOTA", "100"),
            ("DAC_PROVIDERS__EIP__ENABLED", "true"),
            ("DAC_PROVIDERS__EIP__POOL__MAX", "3"),
            ("DAC_CLOUD__ENDPOINT", "http://127.0.0.1:9000"),
            ("DAC_CLOUD__CREDENTIALS__SOURCE", "files"),
            ("DAC_CLOUD__CREDENTIALS__DIR", "/creds"),
            // Not ours: ignored.
            ("TENCENTCLOUD_SECRET_ID", "AKID"),
        ],
    )
    .unwrap();
    assert_eq!(config.cluster.region, "ap-guangzhou");
    assert_eq!(
        config.cluster.vpc_cidrs,
        vec![
            "10.0.0.0/16".parse().unwrap(),
            "10.1.0.0/16".parse().unwrap()
        ]
    );
    assert_eq!(config.providers.clb.batch_window_ms, 50);
    assert_eq!(config.providers.clb.listener_quota, Some(100));
    assert!(config.is_enabled(EIP));
    assert_eq!(config.providers.eip.pool.max, 3);
    assert_eq!(
        config.cloud.endpoint.as_deref(),
        Some("http://127.0.0.1:9000")
    );
    assert_eq!(
        config.cloud.credentials,
        CredentialsConfig::Files {
            dir: "/creds".into()
        }
    );
}

#[test]
fn the_environment_alone_is_enough() {
    let config = ControllerConfig::build(
        None::<File<::config::FileSourceString, FileFormat>>,
        environment(env(&[
            ("DAC_CLUSTER__ID", "cls-env"),
            ("DAC_CLUSTER__REGION", "ap-shanghai"),
            ("DAC_CLUSTER__VPC_CIDRS", "10.0.0.0/8"),
        ])),
    )
    .unwrap();
    assert_eq!(config.cluster.id, "cls-env");
    assert_eq!(config.cluster.vpc_cidrs.len(), 1);
}

#[test]
fn custom_provider_sections_are_passed_through() {
    let config = load_yaml(
        &format!(
            "{MINIMAL}providers:\n  static-table:\n    addresses: ['203.0.113.10:7000']\n    weights: {{a: 1}}\n  off:\n    enabled: false\n"
        ),
        &[],
    )
    .unwrap();
    let section = config.custom_section("static-table").unwrap();
    assert_eq!(section["addresses"][0], "203.0.113.10:7000");
    assert_eq!(section["weights"]["a"], 1);
    assert!(config.is_enabled("static-table"));
    assert!(!config.is_enabled("off"));
    // Compiled in without a section: enabled.
    assert!(config.is_enabled("unconfigured"));
}

#[test]
fn all_problems_are_reported_at_once() {
    let found = problems(load_yaml(
        "cluster: {id: 'bad id!', region: ''}\n\
         cloud: {endpoints: {clb: 'localhost:9000'}, retry: {maxAttempts: 0, baseDelayMs: 9000}}\n\
         providers:\n\
         \x20 natgw:\n\
         \x20   enabled: true\n\
         \x20   gateways:\n\
         \x20     - {id: nat-1, minPort: 600, maxPort: 501}\n\
         \x20     - {id: nat-1, minPort: 1, maxPort: 2}\n\
         \x20 eip: {pool: {min: 5, max: 2}}\n\
         \x20 Bad_Name: {}\n",
        &[],
    ));
    let expected = [
        "cluster.id \"bad id!\"",
        "cluster.region is required",
        "cloud endpoint clb",
        "maxAttempts must be at least 1",
        "baseDelayMs must not exceed maxDelayMs",
        "ports must satisfy 1 <= minPort <= maxPort, got 600-501",
        "nat-1 is listed twice",
        "min 5 exceeds max 2",
        "providers.Bad_Name",
    ];
    for text in expected {
        assert!(
            found.iter().any(|p| p.contains(text)),
            "{text:?} not among {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn an_empty_config_names_the_required_keys() {
    let found = problems(load_yaml("{}", &[]));
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("cluster.id is required"))
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("cluster.region is required"))
    );
}

#[test]
fn natgw_enabled_without_gateways_is_an_error() {
    let found = problems(load_yaml(
        MINIMAL,
        &[("DAC_PROVIDERS__NATGW__ENABLED", "true")],
    ));
    assert_eq!(
        found,
        vec!["providers.natgw is enabled but lists no gateways"]
    );
}

#[test]
fn typos_and_bad_values_fail_to_load() {
    let load_error = |text: &str, vars: &[(&str, &str)]| match load_yaml(text, vars) {
        Err(ConfigError::Load(error)) => error.to_string(),
        other => panic!("expected a load error, got {other:?}"),
    };
    assert!(load_error(&format!("{MINIMAL}cloud: {{retries: {{}}}}\n"), &[]).contains("retries"));
    assert!(
        load_error(MINIMAL, &[("DAC_PROVIDERS__CLB__BATCHWINDOWMS", "5")])
            .contains("batchwindowms")
    );
    assert!(
        load_error("cluster: {id: c, region: r, vpcCidrs: [10.0.0.0]}\n", &[])
            .contains("not a CIDR block")
    );
    assert!(
        load_error(
            &format!("{MINIMAL}providers: {{eip: {{retention: {{policy: KeepFor}}}}}}\n"),
            &[]
        )
        .contains("needs a duration")
    );
    assert!(
        load_error(
            &format!("{MINIMAL}providers: {{eip: {{retention: {{policy: Forever}}}}}}\n"),
            &[]
        )
        .contains("unknown retention policy")
    );
    assert!(
        load_error(
            &format!("{MINIMAL}providers: {{natgw: {{gateways: [{{id: nat-1, minPort: 70000, maxPort: 1}}]}}}}\n"),
            &[]
        )
        .contains("70000")
    );
}

#[test]
fn the_api_server_caps_default_take_the_environment_and_are_at_least_one() {
    let defaults = load_yaml(MINIMAL, &[]).unwrap().kubernetes;
    assert_eq!(defaults.max_requests_in_flight, 32);
    assert_eq!(defaults.max_reconciles_in_flight, 5000);
    let set = load_yaml(
        MINIMAL,
        &[
            ("DAC_KUBERNETES__MAX_REQUESTS_IN_FLIGHT", "8"),
            ("DAC_KUBERNETES__MAX_RECONCILES_IN_FLIGHT", "100"),
        ],
    )
    .unwrap()
    .kubernetes;
    assert_eq!(
        (set.max_requests_in_flight, set.max_reconciles_in_flight),
        (8, 100)
    );
    for key in ["maxRequestsInFlight", "maxReconcilesInFlight"] {
        let refused = problems(load_yaml(
            &format!("{MINIMAL}kubernetes: {{{key}: 0}}\n"),
            &[],
        ));
        assert!(
            refused.iter().any(|p| p.contains(key)),
            "{key}: {refused:?}"
        );
    }
}

#[test]
fn vpc_membership_is_checked_only_when_cidrs_are_configured() {
    let mut cluster = ClusterConfig::default();
    let overlay: IpAddr = "172.16.0.5".parse().unwrap();
    assert!(cluster.is_vpc_ip(overlay));
    cluster.vpc_cidrs = vec!["10.0.0.0/16".parse().unwrap()];
    assert!(!cluster.is_vpc_ip(overlay));
    assert!(cluster.is_vpc_ip("10.0.3.4".parse().unwrap()));
}

#[test]
fn provider_names_are_dns_labels() {
    for good in ["clb", "my-provider", "a1", "x"] {
        assert!(is_dns_label(good), "{good}");
    }
    for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
        assert!(!is_dns_label(bad), "{bad}");
    }
}

#[test]
fn dac_variables_outside_the_config_sections_are_ignored() {
    // What a Pod of the Helm release `dac` sees: the CLI's own variables and the service links
    // of the chart's metrics Service `dac-dedicated-address-controller-metrics`.
    let config = load_yaml(
        MINIMAL,
        &[
            (
                "DAC_CONFIG",
                "/etc/dedicated-address-controller/config.yaml",
            ),
            ("DAC_LISTEN", "0.0.0.0:8080"),
            ("DAC_NAMESPACE", "games"),
            (
                "DAC_DEDICATED_ADDRESS_CONTROLLER_METRICS_PORT",
                "tcp://172.30.0.10:8080",
            ),
            (
                "DAC_DEDICATED_ADDRESS_CONTROLLER_METRICS_PORT_8080_TCP_ADDR",
                "172.30.0.10",
            ),
            (
                "DAC_DEDICATED_ADDRESS_CONTROLLER_METRICS_SERVICE_HOST",
                "172.30.0.10",
            ),
            ("DAC_CLUSTER_SERVICE_PORT", "8080"),
            ("DAC_PROVIDERS__CLB__BATCH_WINDOW_MS", "75"),
        ],
    )
    .unwrap();
    assert_eq!(config.providers.clb.batch_window_ms, 75);
    assert!(config.providers.custom.is_empty());
}

#[test]
fn placeholder_cluster_ids_are_refused() {
    for id in ["cls-example", "cls-xxx", "CLS-XXXXXXXX"] {
        let found = problems(load_yaml(
            &format!("cluster: {{id: {id}, region: ap-chengdu}}\n"),
            &[],
        ));
        assert!(
            found.iter().any(|p| p.contains("placeholder")),
            "{id}: {found:?}"
        );
    }
}

#[test]
fn sweep_and_access_sections_are_read_and_checked() {
    let config = load_yaml(
        &format!(
            "{MINIMAL}sweep: {{interval: 2m, maxReleasesPerRun: 5, dryRun: true}}\n\
             access:\n  frontends:\n  - {{name: team-a, namespaces: [games], ids: [lb-1]}}\n\
             \x20 - {{tag: {{key: dac-allowed, value: 'true'}}}}\n"
        ),
        &[("DAC_SWEEP__MAX_RELEASES_PER_RUN", "7")],
    )
    .unwrap();
    assert_eq!(config.sweep.interval, Duration::from_secs(120));
    assert_eq!(config.sweep.max_releases_per_run, 7);
    assert!(config.sweep.dry_run);
    assert_eq!(config.access.frontends.len(), 2);
    assert_eq!(config.access.frontends[0].ids, vec!["lb-1".to_string()]);
    assert_eq!(
        config.access.frontends[1]
            .tag
            .as_ref()
            .unwrap()
            .value
            .as_deref(),
        Some("true")
    );

    let found = problems(load_yaml(
        &format!(
            "{MINIMAL}sweep: {{interval: 1s}}\naccess:\n  frontends:\n  - {{namespaces: [x]}}\n"
        ),
        &[],
    ));
    assert!(
        found.iter().any(|p| p.contains("sweep.interval")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.contains("give ids, a tag")),
        "{found:?}"
    );
}
