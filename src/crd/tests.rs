//! The CRDs accept seed 000's YAML, their CEL rules say what they mean, and the committed
//! `deploy/crds/crds.yaml` is what `crdgen` prints.
use super::*;
use kube::core::cel::Validator;
use serde_json::{Value, json};

const SEED_000: &str = include_str!("testdata/seed-000.yaml");

fn seed_documents() -> Vec<Value> {
    serde_saphyr::from_multiple(SEED_000).expect("seed 000 is valid YAML")
}

fn schema_of(crd: &CustomResourceDefinition) -> Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("every CRD has a schema");
    serde_json::to_value(schema).unwrap()
}

/// Runs the CRD's CEL rules on `object` (with `old` for transition rules), as the API server
/// would after defaulting; returns the failing rules' messages.
fn cel_errors(crd: &CustomResourceDefinition, object: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(&schema_of(crd), object, old) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
    }
}

fn assert_cel_ok(crd: &CustomResourceDefinition, object: &Value) {
    let errors = cel_errors(crd, object, None);
    assert!(errors.is_empty(), "unexpected CEL failures: {errors:?}");
}

fn assert_cel_rejects(crd: &CustomResourceDefinition, object: &Value, message: &str) {
    let errors = cel_errors(crd, object, None);
    assert!(
        errors.iter().any(|e| e.contains(message)),
        "expected a failure containing {message:?}, got {errors:?}"
    );
}

fn service(spec: Value) -> Value {
    json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1",
        "kind": "DedicatedCLBService",
        "metadata": {"name": "gameserver", "namespace": "demo"},
        "spec": spec,
    })
}

fn listener(spec: Value) -> Value {
    json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1",
        "kind": "DedicatedCLBListener",
        "metadata": {"name": "gameserver-0", "namespace": "demo"},
        "spec": spec,
    })
}

fn ports() -> Value {
    json!([{"protocol": "TCP", "targetPort": 9000}])
}

#[test]
fn seed_000_deserializes_into_the_types() {
    let documents = seed_documents();
    assert_eq!(documents.len(), 2);

    let service: DedicatedCLBService = serde_json::from_value(documents[0].clone()).unwrap();
    assert_eq!(service.spec.provider, "clb", "provider defaults to clb");
    assert_eq!(service.spec.lb_region.as_deref(), Some("ap-chengdu"));
    assert_eq!(
        (service.spec.min_port, service.spec.max_port),
        (Some(501), Some(600))
    );
    assert_eq!(service.spec.selector["app"], "gameserver");
    assert_eq!(
        service.spec.ports,
        vec![
            ServicePort {
                protocol: Protocol::Tcp,
                target_port: 9000,
                address_pod_annotation: Some(
                    "networking.cloud.tencent.com/external-address-9000".into()
                ),
            },
            ServicePort {
                protocol: Protocol::Udp,
                target_port: 8000,
                address_pod_annotation: Some(
                    "networking.cloud.tencent.com/external-address-8080".into()
                ),
            },
        ]
    );
    assert_eq!(
        service.spec.existed_lb_ids,
        Some(vec!["lb-xxx".into(), "lb-yyy".into(), "lb-zzz".into()])
    );

    let listener: DedicatedCLBListener = serde_json::from_value(documents[1].clone()).unwrap();
    assert_eq!(listener.spec.provider, "clb");
    assert_eq!(listener.spec.lb_id.as_deref(), Some("lb-xxx"));
    assert_eq!(listener.spec.lb_port, Some(8088));
    assert_eq!(listener.spec.protocol, Protocol::Tcp);
    assert_eq!(
        listener.spec.listener_config.as_deref(),
        Some("clblistenerconfig-sample")
    );
    assert_eq!(
        listener.spec.backend_pod,
        Some(BackendPod {
            pod_name: "gameserver-0".into(),
            port: 80
        })
    );
    let status = listener.status.expect("the seed's child has a status");
    assert_eq!(status.listener_id.as_deref(), Some("lbl-ku486mr3"));
    assert_eq!(status.state, Some(ListenerState::Bound));
    assert_eq!(status.address.as_deref(), Some("139.135.64.53:8088"));
}

#[test]
fn seed_000_passes_the_cel_rules() {
    let documents = seed_documents();
    assert_cel_ok(&DedicatedCLBService::crd(), &documents[0]);
    assert_cel_ok(&DedicatedCLBListener::crd(), &documents[1]);
    // Applying it again unchanged is an update that the transition rules must allow.
    let errors = cel_errors(
        &DedicatedCLBListener::crd(),
        &documents[1],
        Some(&documents[1]),
    );
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn types_round_trip_without_inventing_fields() {
    // What the controller writes back must be what users wrote: no nulls, no defaults besides
    // `provider`.
    let documents = seed_documents();
    let service: DedicatedCLBService = serde_json::from_value(documents[0].clone()).unwrap();
    let mut expected = documents[0].clone();
    expected["spec"]["provider"] = json!("clb");
    assert_eq!(serde_json::to_value(&service).unwrap(), expected);
}

#[test]
fn the_port_range_must_be_ordered_and_complete() {
    let crd = DedicatedCLBService::crd();
    let base = json!({"selector": {"app": "gs"}, "ports": ports()});

    let mut reversed = base.clone();
    reversed["minPort"] = json!(600);
    reversed["maxPort"] = json!(501);
    assert_cel_rejects(
        &crd,
        &service(reversed),
        "minPort must not be greater than maxPort",
    );

    let mut single = base.clone();
    single["minPort"] = json!(600);
    single["maxPort"] = json!(600);
    assert_cel_ok(&crd, &service(single));

    let mut half = base.clone();
    half["minPort"] = json!(501);
    assert_cel_rejects(&crd, &service(half), "must be set together");

    // clb (the default) needs a range; eip takes none; natgw may use its gateways' ranges.
    assert_cel_rejects(&crd, &service(base.clone()), "required for provider clb");
    let mut eip = base.clone();
    eip["provider"] = json!("eip");
    assert_cel_ok(&crd, &service(eip.clone()));
    eip["minPort"] = json!(501);
    eip["maxPort"] = json!(600);
    assert_cel_rejects(&crd, &service(eip), "do not apply");
    let mut natgw = base;
    natgw["provider"] = json!("natgw");
    assert_cel_ok(&crd, &service(natgw));
}

#[test]
fn provider_specific_fields_need_their_provider() {
    let crd = DedicatedCLBService::crd();
    let spec = |provider: &str, field: &str, value: Value| {
        let mut spec = json!({"provider": provider, "selector": {"app": "gs"}, "ports": ports()});
        if provider != "eip" {
            spec["minPort"] = json!(501);
            spec["maxPort"] = json!(600);
        }
        spec[field] = value;
        service(spec)
    };

    assert_cel_ok(&crd, &spec("clb", "existedLbIds", json!(["lb-1"])));
    assert_cel_rejects(
        &crd,
        &spec("natgw", "existedLbIds", json!(["lb-1"])),
        "existedLbIds applies to provider clb only",
    );
    assert_cel_rejects(
        &crd,
        &spec("eip", "extensiveParameters", json!("{}")),
        "extensiveParameters applies to provider clb only",
    );
    assert_cel_ok(&crd, &spec("natgw", "natGatewayIds", json!(["nat-1"])));
    assert_cel_rejects(
        &crd,
        &spec("clb", "natGatewayIds", json!(["nat-1"])),
        "natGatewayIds applies to provider natgw only",
    );
    let keep = json!({"retention": {"policy": "KeepFor", "duration": "30m"}});
    assert_cel_ok(&crd, &spec("eip", "eip", keep.clone()));
    assert_cel_rejects(
        &crd,
        &spec("clb", "eip", keep),
        "eip applies to provider eip only",
    );
    assert_cel_rejects(
        &crd,
        &spec("natgw", "listenerConfig", json!("cfg")),
        "does not apply to providers natgw and eip",
    );
    // A custom provider may use a listener config, and fields no built-in claims.
    assert_cel_ok(&crd, &spec("my-table", "listenerConfig", json!("cfg")));
}

#[test]
fn eip_retention_needs_a_duration_exactly_with_keep_for() {
    let crd = DedicatedCLBService::crd();
    let with = |retention: Value| {
        service(json!({
            "provider": "eip",
            "selector": {"app": "gs"},
            "ports": ports(),
            "eip": {"retention": retention},
        }))
    };
    assert_cel_ok(&crd, &with(json!({"policy": "Release"})));
    assert_cel_ok(&crd, &with(json!({"policy": "KeepWhileNameExists"})));
    assert_cel_rejects(
        &crd,
        &with(json!({"policy": "KeepFor"})),
        "duration is required",
    );
    assert_cel_rejects(
        &crd,
        &with(json!({"policy": "Release", "duration": "1h"})),
        "duration is required",
    );
}

#[test]
fn an_annotation_belongs_to_one_port() {
    let crd = DedicatedCLBService::crd();
    let annotation = "example.com/address";
    let spec = json!({
        "minPort": 501, "maxPort": 600, "selector": {"app": "gs"},
        "ports": [
            {"protocol": "TCP", "targetPort": 9000, "addressPodAnnotation": annotation},
            {"protocol": "UDP", "targetPort": 9000, "addressPodAnnotation": annotation},
        ],
    });
    assert_cel_rejects(&crd, &service(spec), "one port only");
}

#[test]
fn ports_are_a_list_map_keyed_by_protocol_and_target_port() {
    // The API server rejects duplicate keys in a list map, so a (protocol, targetPort) pair can
    // only be listed once; CEL is not needed for that.
    let schema = schema_of(&DedicatedCLBService::crd());
    let ports = &schema["properties"]["spec"]["properties"]["ports"];
    assert_eq!(ports["x-kubernetes-list-type"], "map");
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        json!(["protocol", "targetPort"])
    );
    assert_eq!(ports["minItems"], json!(1));
    let selector = &schema["properties"]["spec"]["properties"]["selector"];
    assert_eq!(selector["minProperties"], json!(1));
    let target_port = &ports["items"]["properties"]["targetPort"];
    assert_eq!(
        (
            target_port["minimum"].as_f64(),
            target_port["maximum"].as_f64()
        ),
        (Some(1.0), Some(65535.0))
    );
    assert_eq!(
        ports["items"]["properties"]["protocol"]["enum"],
        json!(["TCP", "UDP"])
    );
}

#[test]
fn listeners_need_what_their_provider_needs() {
    let crd = DedicatedCLBListener::crd();
    let pod = json!({"podName": "gs-0", "port": 9000});

    assert_cel_rejects(
        &crd,
        &listener(json!({"protocol": "TCP", "lbPort": 501})),
        "lbId and lbPort are required",
    );
    assert_cel_ok(
        &crd,
        &listener(json!({"protocol": "TCP", "lbId": "lb-1", "lbPort": 501})),
    );
    assert_cel_rejects(
        &crd,
        &listener(json!({"provider": "natgw", "protocol": "UDP", "lbId": "nat-1", "lbPort": 501})),
        "publicIp (the NAT gateway EIP) is required",
    );
    assert_cel_ok(
        &crd,
        &listener(json!({
            "provider": "natgw", "protocol": "UDP", "lbId": "nat-1", "lbPort": 501,
            "publicIp": "1.2.3.4", "backendPod": pod,
        })),
    );
    assert_cel_rejects(
        &crd,
        &listener(json!({"protocol": "TCP", "lbId": "lb-1", "lbPort": 501, "publicIp": "1.2.3.4"})),
        "publicIp does not apply to provider clb",
    );
    assert_cel_ok(
        &crd,
        &listener(json!({"provider": "eip", "protocol": "TCP", "backendPod": pod})),
    );
    assert_cel_rejects(
        &crd,
        &listener(json!({"provider": "eip", "protocol": "TCP"})),
        "provider eip needs backendPod",
    );
}

#[test]
fn a_listener_never_moves_in_place() {
    let crd = DedicatedCLBListener::crd();
    let old = listener(json!({"protocol": "TCP", "lbId": "lb-1", "lbPort": 501}));

    let mut rebound = old.clone();
    rebound["spec"]["backendPod"] = json!({"podName": "gs-0", "port": 9000});
    assert!(cel_errors(&crd, &rebound, Some(&old)).is_empty());

    let mut moved = old.clone();
    moved["spec"]["lbPort"] = json!(502);
    let errors = cel_errors(&crd, &moved, Some(&old));
    assert!(
        errors.iter().any(|e| e.contains("lbPort is immutable")),
        "{errors:?}"
    );

    let mut other_lb = old.clone();
    other_lb["spec"]["lbId"] = json!("lb-2");
    let errors = cel_errors(&crd, &other_lb, Some(&old));
    assert!(
        errors.iter().any(|e| e.contains("lbId is immutable")),
        "{errors:?}"
    );

    let mut udp = old.clone();
    udp["spec"]["protocol"] = json!("UDP");
    let errors = cel_errors(&crd, &udp, Some(&old));
    assert!(errors.iter().any(|e| e.contains("immutable")), "{errors:?}");
}

#[test]
fn listener_configs_check_the_cloud_limits() {
    let crd = CLBListenerConfig::crd();
    let config = |spec: Value| {
        json!({
            "apiVersion": "networking.cloud.tencent.com/v1alpha1",
            "kind": "CLBListenerConfig",
            "metadata": {"name": "cfg", "namespace": "demo"},
            "spec": spec,
        })
    };
    let full = config(json!({
        "healthCheck": {
            "healthSwitch": 1, "timeOut": 2, "intervalTime": 5, "healthNum": 3, "unHealthNum": 3,
            "checkType": "TCP",
        },
        "scheduler": "LEAST_CONN",
        "sessionExpireTime": 30,
    }));
    assert_cel_ok(&crd, &full);
    let parsed: CLBListenerConfig = serde_json::from_value(full).unwrap();
    assert_eq!(parsed.spec.scheduler, Some(Scheduler::LeastConn));
    assert_eq!(
        parsed.spec.health_check.unwrap().check_type,
        Some(HealthCheckType::Tcp)
    );

    assert_cel_ok(&crd, &config(json!({"sessionExpireTime": 0})));
    assert_cel_rejects(
        &crd,
        &config(json!({"sessionExpireTime": 10})),
        "sessionExpireTime",
    );
    assert_cel_rejects(
        &crd,
        &config(json!({"healthCheck": {"timeOut": 5, "intervalTime": 5}})),
        "timeOut must be less than intervalTime",
    );
    assert_cel_rejects(
        &crd,
        &config(json!({"healthCheck": {"checkType": "CUSTOM", "contextType": "TEXT"}})),
        "checkType CUSTOM needs",
    );
    assert_cel_rejects(
        &crd,
        &config(json!({"healthCheck": {"checkType": "HTTP"}})),
        "checkType HTTP needs httpVersion",
    );
}

#[test]
fn every_kind_is_in_the_category_with_its_short_name() {
    let names: Vec<_> = all()
        .iter()
        .map(|crd| {
            assert_eq!(crd.spec.group, GROUP);
            assert_eq!(crd.spec.versions[0].name, VERSION);
            assert_eq!(
                crd.spec.names.categories.as_deref(),
                Some(&[CATEGORY.to_string()][..])
            );
            (
                crd.spec.names.kind.clone(),
                crd.spec.names.short_names.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("DedicatedCLBService".to_string(), vec!["dcs".to_string()]),
            ("DedicatedCLBListener".to_string(), vec!["dcl".to_string()]),
            ("CLBListenerConfig".to_string(), vec!["clc".to_string()]),
            ("CLBPortPool".to_string(), vec!["cpp".to_string()]),
            ("CLBPodBinding".to_string(), vec!["cpb".to_string()]),
        ]
    );
}

#[test]
fn the_committed_crds_match_crdgen() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/crds/crds.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = to_yaml().unwrap();
    assert!(
        committed == generated,
        "{} is out of date with src/crd: run `cargo run --bin crdgen > deploy/crds/crds.yaml` and commit it",
        path.display()
    );
}

#[test]
fn selectors_must_be_label_syntax() {
    let crd = DedicatedCLBService::crd();
    let with = |selector: Value| {
        service(json!({
            "minPort": 501, "maxPort": 600, "ports": ports(), "selector": selector,
        }))
    };
    assert_cel_ok(
        &crd,
        &with(json!({"app": "gameserver", "example.com/tier": "a.b_c-1", "empty": ""})),
    );
    // A comma would have joined a second term into the selector string.
    assert_cel_rejects(
        &crd,
        &with(json!({"app": "gs,tier=prod"})),
        "selector values",
    );
    assert_cel_rejects(&crd, &with(json!({"app": "-gs"})), "selector values");
    assert_cel_rejects(&crd, &with(json!({"app=x": "gs"})), "selector keys");
    assert_cel_rejects(
        &crd,
        &with(json!({"Example.com/app": "gs"})),
        "selector keys",
    );
    assert_cel_rejects(&crd, &with(json!({"a/b/c": "gs"})), "selector keys");
}
