//! The pool API's CRDs (`CLBPortPool`, `CLBPodBinding`) take tke-extend-network-controller
//! v2.5.2's YAML unchanged, refuse what its admission webhook refuses (as CEL rules), keep its
//! immutable fields immutable, apply our provider rules, and read back what that controller
//! writes without adding anything.
use super::*;
use kube::core::cel::Validator;
use serde_json::{Value, json};

fn schema_of(crd: &CustomResourceDefinition) -> Value {
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("every CRD has a schema");
    serde_json::to_value(schema).unwrap()
}

/// The CRD's CEL rules on `object` (with `old` for transition rules), after defaulting.
fn cel_errors(crd: &CustomResourceDefinition, object: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(&schema_of(crd), object, old) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.message.clone()).collect(),
    }
}

/// The structural part of the API server's validation that the CEL validator leaves out: unknown
/// fields (which the API server would silently prune), types, enums, bounds, required fields.
fn schema_errors(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if value.is_null() {
        if schema["nullable"] != json!(true) {
            errors.push(format!("{path}: null is not allowed"));
        }
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    let type_ok = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !type_ok {
        errors.push(format!("{path}: {value} is not of type {}", schema["type"]));
        return;
    }
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema["minimum"].as_f64()
            && number < minimum
        {
            errors.push(format!("{path}: {number} is below the minimum {minimum}"));
        }
        if let Some(maximum) = schema["maximum"].as_f64()
            && number > maximum
        {
            errors.push(format!("{path}: {number} is above the maximum {maximum}"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|min| length < min)
            || schema["maxLength"].as_u64().is_some_and(|max| length > max)
        {
            errors.push(format!("{path}: length of {text:?} is out of bounds"));
        }
    }
    if let Some(items) = value.as_array() {
        if schema["maxItems"]
            .as_u64()
            .is_some_and(|max| items.len() as u64 > max)
        {
            errors.push(format!("{path}: too many items"));
        }
        for (index, item) in items.iter().enumerate() {
            schema_errors(&schema["items"], item, &format!("{path}[{index}]"), errors);
        }
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !object.contains_key(name) {
                errors.push(format!("{path}.{name}: required"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, field) in object {
            if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&name.as_str()) {
                continue;
            }
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => {
                    schema_errors(field_schema, field, &format!("{path}.{name}"), errors)
                }
                None if schema["additionalProperties"].is_object() => schema_errors(
                    &schema["additionalProperties"],
                    field,
                    &format!("{path}.{name}"),
                    errors,
                ),
                None => errors.push(format!("{path}.{name}: unknown field")),
            }
        }
    }
}

/// Everything the API server would say about `object` on create (or on update from `old`).
fn errors(crd: &CustomResourceDefinition, object: &Value, old: Option<&Value>) -> Vec<String> {
    let mut errors = Vec::new();
    schema_errors(&schema_of(crd), object, "", &mut errors);
    errors.extend(cel_errors(crd, object, old));
    errors
}

#[track_caller]
fn assert_accepted(crd: &CustomResourceDefinition, object: &Value) {
    let errors = errors(crd, object, None);
    assert!(
        errors.is_empty(),
        "{} refused: {errors:?}",
        object["metadata"]["name"]
    );
}

#[track_caller]
fn assert_refused(crd: &CustomResourceDefinition, object: &Value, message: &str) {
    let errors = errors(crd, object, None);
    assert!(
        errors.iter().any(|e| e.contains(message)),
        "expected a failure containing {message:?}, got {errors:?}"
    );
}

#[track_caller]
fn assert_update_refused(crd: &CustomResourceDefinition, old: &Value, new: &Value, message: &str) {
    let errors = errors(crd, new, Some(old));
    assert!(
        errors.iter().any(|e| e.contains(message)),
        "expected a failure containing {message:?}, got {errors:?}"
    );
}

#[track_caller]
fn assert_update_accepted(crd: &CustomResourceDefinition, old: &Value, new: &Value) {
    let errors = errors(crd, new, Some(old));
    assert!(errors.is_empty(), "update refused: {errors:?}");
}

fn pool(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1",
        "kind": "CLBPortPool",
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// The pools of upstream's user guide that its own webhook accepts, written out field for field
/// (ids and values as the guide uses them).
const UPSTREAM_POOLS: &str = r#"
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-internal}
spec:
  startPort: 30000
  exsistedLoadBalancerIDs: [lb-04iq85jh]
  autoCreate:
    enabled: true
    parameters: {loadBalancerType: INTERNAL, subnetId: subnet-k57djpow}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-prod}
spec:
  startPort: 30000
  exsistedLoadBalancerIDs: [lb-04iq85jh]
  autoCreate:
    enabled: true
    parameters:
      slaType: clb.c4.xlarge
      internetAccessible: {internetChargeType: TRAFFIC_POSTPAID_BY_HOUR, internetMaxBandwidthOut: 61440}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-ctcc}
spec:
  startPort: 30000
  autoCreate:
    maxLoadBalancers: 3
    enabled: true
    parameters: {vipIsp: CTCC, bandwidthPackageId: bwp-40ykow69}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-quota}
spec:
  startPort: 30000
  exsistedLoadBalancerIDs: [lb-cxxc6xup, lb-mq3rs6h9]
  listenerQuota: 500
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-port-range}
spec:
  startPort: 30000
  segmentLength: 10
  exsistedLoadBalancerIDs: [lb-04iq85jh]
  autoCreate: {enabled: true}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-test}
spec:
  startPort: 30000
  segmentLength: 1001
  autoCreate: {enabled: true}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-cmcc}
spec:
  startPort: 30000
  segmentLength: 10001
  exsistedLoadBalancerIDs: [lb-jjgsqldb, lb-08jk7hh]
  autoCreate:
    enabled: true
    parameters: {vipIsp: CMCC, bandwidthPackageId: bwp-97yjlal5}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-cucc}
spec:
  startPort: 30000
  exsistedLoadBalancerIDs: [lb-cxxc6xup, lb-mq3rs6h9]
  autoCreate:
    enabled: true
    parameters: {vipIsp: CUCC, bandwidthPackageId: bwp-97yjlal5}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-bgp}
spec:
  startPort: 30000
  exsistedLoadBalancerIDs: [lb-cx8c6xxa, lb-mq8rs9hk]
  autoCreate: {enabled: true}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-eip}
spec:
  startPort: 30000
  exsistedLoadBalancerIDs:
  - lb-04iq85jh
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-precreate}
spec:
  startPort: 30000
  exsistedLoadBalancerIDs: [lb-04iq85jh]
  listenerPrecreate: {enabled: true, tcp: 25, udp: 25}
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-ipv6}
spec:
  startPort: 30000
  exsistedLoadBalancerIDs: [lb-xxxxx]
---
apiVersion: networking.cloud.tencent.com/v1alpha1
kind: CLBPortPool
metadata: {name: pool-ipv6}
spec:
  startPort: 30000
  autoCreate:
    enabled: true
    parameters: {addressIPVersion: IPv6FullChain, loadBalancerType: OPEN, vpcId: vpc-xxxxx, subnetId: subnet-xxxxxxxx}
"#;

fn upstream_pools() -> Vec<Value> {
    serde_saphyr::from_multiple(UPSTREAM_POOLS).expect("the samples are valid YAML")
}

#[test]
fn upstream_sample_pools_apply() {
    let crd = CLBPortPool::crd();
    let pools = upstream_pools();
    let names: Vec<_> = pools
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    for name in [
        "pool-internal",
        "pool-prod",
        "pool-ctcc",
        "pool-quota",
        "pool-port-range",
        "pool-eip",
        "pool-precreate",
        "pool-ipv6",
    ] {
        assert!(names.contains(&name), "{name} is among the samples");
    }
    for pool in &pools {
        assert_accepted(&crd, pool);
        // Applying the same YAML again is an update the transition rules must allow.
        let errors = errors(&crd, pool, Some(pool));
        assert!(errors.is_empty(), "{errors:?}");
    }
}

#[test]
fn upstream_sample_pools_read_back_unchanged() {
    for document in upstream_pools() {
        let pool: CLBPortPool = serde_json::from_value(document.clone()).unwrap();
        assert_eq!(pool.spec.provider, "clb", "provider defaults to clb");
        let mut expected = document;
        expected["spec"]["provider"] = json!("clb");
        assert_eq!(serde_json::to_value(&pool).unwrap(), expected);
    }
}

#[test]
fn the_samples_mean_what_upstream_means() {
    let pools: Vec<CLBPortPool> = upstream_pools()
        .into_iter()
        .map(|p| serde_json::from_value(p).unwrap())
        .collect();
    let by_name = |name: &str| {
        pools
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .unwrap()
    };

    let internal = &by_name("pool-internal").spec;
    assert!(internal.auto_create_enabled());
    let parameters = internal
        .auto_create
        .as_ref()
        .unwrap()
        .parameters
        .as_ref()
        .unwrap();
    assert_eq!(
        parameters.load_balancer_type,
        Some(LoadBalancerType::Internal)
    );
    assert_eq!(parameters.subnet_id.as_deref(), Some("subnet-k57djpow"));
    assert_eq!(internal.last_port(), 65535);
    assert_eq!(internal.segment_length(), 1);
    assert_eq!(internal.region(), None);

    let prod = &by_name("pool-prod").spec;
    let parameters = prod.auto_create.as_ref().unwrap().parameters.as_ref();
    assert_eq!(parameters.unwrap().sla_type, Some(SlaType::C4Xlarge));
    let internet = parameters.unwrap().internet_accessible.as_ref().unwrap();
    assert_eq!(
        internet.internet_charge_type,
        Some(InternetChargeType::TrafficPostpaidByHour)
    );
    assert_eq!(internet.internet_max_bandwidth_out, Some(61440));

    let ctcc = by_name("pool-ctcc").spec.auto_create.as_ref().unwrap();
    assert_eq!(ctcc.max_load_balancers, Some(3));
    assert_eq!(
        ctcc.parameters.as_ref().unwrap().vip_isp,
        Some(VipIsp::Ctcc)
    );

    assert_eq!(by_name("pool-quota").spec.listener_quota, Some(500));
    assert_eq!(by_name("pool-port-range").spec.segment_length(), 10);
    let precreate = by_name("pool-precreate").spec.listener_precreate.clone();
    assert_eq!(
        precreate,
        Some(ListenerPrecreate {
            enabled: true,
            tcp: Some(25),
            udp: Some(25)
        })
    );
    assert!(by_name("pool-precreate").spec.listener_precreate_enabled());
}

#[test]
fn every_field_of_the_pool_spec_is_known() {
    // The reference listing of every field (values adjusted so the webhook rules pass): nothing
    // may be pruned as unknown.
    let crd = CLBPortPool::crd();
    let full = pool(
        "pool-full",
        json!({
            "startPort": 30000,
            "endPort": 30100,
            "segmentLength": 0,
            "exsistedLoadBalancerIDs": ["lb-04iq85jh"],
            "lbPolicy": "Random",
            "lbBlacklist": [],
            "listenerPrecreate": {"enabled": false, "tcp": 25, "udp": 25},
            "region": "ap-guangzhou",
            "autoCreate": {
                "enabled": true,
                "maxLoadBalancers": 10,
                "parameters": {
                    "vipIsp": "BGP",
                    "bandwidthPackageId": "bwp-1",
                    "addressIPVersion": "IPV4",
                    "loadBalancerPassToTarget": true,
                    "dynamicVip": false,
                    "vpcId": "vpc-1",
                    "vip": "10.0.0.9",
                    "tags": [{"tagKey": "team", "tagValue": "games"}],
                    "projectId": 0,
                    "loadBalancerName": "games",
                    "loadBalancerType": "OPEN",
                    "masterZoneId": "ap-guangzhou-3",
                    "zoneId": "ap-guangzhou-3",
                    "subnetId": "subnet-1",
                    "slaType": "clb.c2.medium",
                    "lbChargeType": "POSTPAID_BY_HOUR",
                    "internetAccessible": {
                        "internetChargeType": "BANDWIDTH_PACKAGE",
                        "internetMaxBandwidthOut": 100,
                        "bandwidthpkgSubType": "SINGLEISP",
                    },
                },
            },
        }),
    );
    assert_accepted(&crd, &full);
    let parsed: CLBPortPool = serde_json::from_value(full.clone()).unwrap();
    let mut expected = full;
    expected["spec"]["provider"] = json!("clb");
    assert_eq!(serde_json::to_value(&parsed).unwrap(), expected);

    // The enums are upstream's, case included.
    let mut lower = pool(
        "pool-ipv4",
        json!({"startPort": 30000, "autoCreate": {"enabled": true, "parameters": {"addressIPVersion": "IPv4"}}}),
    );
    assert_refused(&crd, &lower, "is not one of");
    lower["spec"]["autoCreate"]["parameters"]["addressIPVersion"] = json!("IPv6FullChain");
    assert_accepted(&crd, &lower);
    assert_refused(
        &crd,
        &pool(
            "p",
            json!({"startPort": 30000, "autoCreate": {"enabled": true}, "lbPolicy": "RoundRobin"}),
        ),
        "is not one of",
    );
}

#[test]
fn a_clb_pool_needs_existing_or_auto_created_clbs() {
    let crd = CLBPortPool::crd();
    let message = "a clb pool needs CLBs";
    assert_refused(&crd, &pool("p", json!({"startPort": 30000})), message);
    assert_refused(
        &crd,
        &pool(
            "p",
            json!({"startPort": 30000, "exsistedLoadBalancerIDs": []}),
        ),
        message,
    );
    assert_refused(
        &crd,
        &pool(
            "p",
            json!({"startPort": 30000, "autoCreate": {"enabled": false}}),
        ),
        message,
    );
    assert_accepted(
        &crd,
        &pool(
            "p",
            json!({"startPort": 30000, "exsistedLoadBalancerIDs": ["lb-1"], "autoCreate": {"enabled": false}}),
        ),
    );
    // The rule is the clb provider's: a NAT gateway pool names no CLBs.
    assert_accepted(
        &crd,
        &pool("p", json!({"provider": "natgw", "startPort": 30000})),
    );
}

#[test]
fn the_webhook_port_rules_are_cel_rules() {
    let crd = CLBPortPool::crd();
    let with = |extra: Value| {
        let mut spec = json!({"startPort": 30000, "exsistedLoadBalancerIDs": ["lb-1"]});
        for (key, value) in extra.as_object().unwrap() {
            spec[key] = value.clone();
        }
        pool("p", spec)
    };

    // startPort 0: the schema's minimum.
    assert_refused(&crd, &with(json!({"startPort": 0})), "below the minimum");
    let schema = schema_of(&crd);
    assert_eq!(
        schema["properties"]["spec"]["properties"]["startPort"]["minimum"].as_f64(),
        Some(1.0)
    );

    assert_refused(
        &crd,
        &with(json!({"endPort": 30000})),
        "endPort must be greater than startPort",
    );
    assert_refused(
        &crd,
        &with(json!({"endPort": 29999})),
        "endPort must be greater than startPort",
    );
    assert_accepted(&crd, &with(json!({"endPort": 30001})));
    assert_refused(&crd, &with(json!({"endPort": 65536})), "above the maximum");

    assert_refused(
        &crd,
        &with(json!({"endPort": 30100, "listenerQuota": 50})),
        "endPort and listenerQuota cannot be set together",
    );
    assert_refused(
        &crd,
        &with(json!({"listenerQuota": 50, "autoCreate": {"enabled": true}})),
        "listenerQuota cannot be set while autoCreate is enabled",
    );
    assert_accepted(
        &crd,
        &with(json!({"listenerQuota": 50, "autoCreate": {"enabled": false}})),
    );
}

#[test]
fn immutable_fields_stay_as_created() {
    let crd = CLBPortPool::crd();
    let old = pool(
        "p",
        json!({
            "startPort": 30000,
            "endPort": 31000,
            "segmentLength": 10,
            "region": "ap-chengdu",
            "exsistedLoadBalancerIDs": ["lb-1"],
            "listenerPrecreate": {"enabled": true, "tcp": 25, "udp": 25},
        }),
    );
    assert_update_accepted(&crd, &old, &old);

    for (field, value) in [
        ("startPort", json!(30001)),
        ("endPort", json!(32000)),
        ("segmentLength", json!(1)),
        ("region", json!("ap-guangzhou")),
        ("listenerPrecreate", json!({"enabled": true, "tcp": 50})),
        (
            "listenerPrecreate",
            json!({"enabled": false, "tcp": 25, "udp": 25}),
        ),
    ] {
        let mut new = old.clone();
        new["spec"][field] = value;
        assert_update_refused(&crd, &old, &new, "Value is immutable");
    }

    let quota_old = pool(
        "p",
        json!({"startPort": 30000, "listenerQuota": 50, "exsistedLoadBalancerIDs": ["lb-1"]}),
    );
    let mut quota_new = quota_old.clone();
    quota_new["spec"]["listenerQuota"] = json!(100);
    assert_update_refused(&crd, &quota_old, &quota_new, "Value is immutable");

    // What may change: the CLB list, the blacklist, the policy, auto-creation.
    let mut new = old.clone();
    new["spec"]["exsistedLoadBalancerIDs"] = json!(["lb-1", "lb-2"]);
    new["spec"]["lbBlacklist"] = json!(["lb-1"]);
    new["spec"]["lbPolicy"] = json!("Uniform");
    new["spec"]["autoCreate"] = json!({"enabled": true, "maxLoadBalancers": 2});
    assert_update_accepted(&crd, &old, &new);
}

#[test]
fn natgw_pools_take_gateway_fields_only() {
    let crd = CLBPortPool::crd();
    let natgw = |extra: Value| {
        let mut spec = json!({"provider": "natgw", "startPort": 30000, "endPort": 30999});
        for (key, value) in extra.as_object().unwrap() {
            spec[key] = value.clone();
        }
        pool("p", spec)
    };

    assert_accepted(&crd, &natgw(json!({})));
    assert_accepted(
        &crd,
        &natgw(json!({
            "natGatewayIds": ["nat-1", "nat-2"],
            "lbBlacklist": ["nat-2"],
            "lbPolicy": "Uniform",
            "region": "ap-chengdu",
            "segmentLength": 1,
        })),
    );
    let spec: CLBPortPoolSpec = serde_json::from_value(
        natgw(json!({"natGatewayIds": ["nat-1"], "lbBlacklist": ["nat-2"]}))["spec"].clone(),
    )
    .unwrap();
    assert!(spec.is_blacklisted("nat-2") && !spec.is_blacklisted("nat-1"));
    assert_accepted(
        &crd,
        &pool(
            "p",
            json!({"provider": "natgw", "startPort": 30000, "listenerQuota": 100}),
        ),
    );

    assert_refused(
        &crd,
        &natgw(json!({"exsistedLoadBalancerIDs": ["lb-1"]})),
        "exsistedLoadBalancerIDs applies to provider clb only",
    );
    assert_refused(
        &crd,
        &natgw(json!({"autoCreate": {"enabled": false}})),
        "autoCreate applies to provider clb only",
    );
    assert_refused(
        &crd,
        &natgw(json!({"listenerPrecreate": {"enabled": true, "tcp": 10}})),
        "listenerPrecreate applies to provider clb only",
    );
    assert_refused(
        &crd,
        &natgw(json!({"segmentLength": 10})),
        "segmentLength above 1 does not apply",
    );
    assert_refused(
        &crd,
        &natgw(json!({"natGatewayIds": [""]})),
        "out of bounds",
    );

    assert_refused(
        &crd,
        &pool(
            "p",
            json!({"startPort": 30000, "exsistedLoadBalancerIDs": ["lb-1"], "natGatewayIds": ["nat-1"]}),
        ),
        "natGatewayIds applies to provider natgw only",
    );
}

#[test]
fn eip_is_not_a_pool_provider_but_custom_ones_are() {
    let crd = CLBPortPool::crd();
    assert_refused(
        &crd,
        &pool("p", json!({"provider": "eip", "startPort": 30000})),
        "provider eip gives each Pod its own address",
    );
    assert_accepted(
        &crd,
        &pool("p", json!({"provider": "my-table", "startPort": 30000})),
    );
    assert_refused(
        &crd,
        &pool(
            "p",
            json!({"provider": "my-table", "startPort": 30000, "autoCreate": {"enabled": true}}),
        ),
        "autoCreate applies to provider clb only",
    );
}

#[test]
fn a_pool_status_as_upstream_writes_it_reads_back_unchanged() {
    let crd = CLBPortPool::crd();
    let object = json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1",
        "kind": "CLBPortPool",
        "metadata": {"name": "pool-test", "finalizers": ["networking.cloud.tencent.com/finalizer"]},
        "spec": {"provider": "clb", "startPort": 30000, "exsistedLoadBalancerIDs": ["lb-6phn6qgb"], "autoCreate": {"enabled": true}},
        "status": {
            "state": "Active",
            "quota": 50,
            "loadbalancerStatuses": [
                {
                    "state": "Running",
                    "loadbalancerID": "lb-6phn6qgb",
                    "loadbalancerName": "games",
                    "ips": ["111.231.210.160"],
                    "allocated": 2,
                    "addressIPVersion": "IPV4",
                },
                {
                    "autoCreated": true,
                    "state": "Running",
                    "loadbalancerID": "lb-auto0001",
                    "loadbalancerName": "lb-auto0001",
                    "hostname": "lb-auto0001-x.clb.cd-tencentclb.work",
                    "allocated": 0,
                },
                {
                    "autoCreated": true,
                    "state": "",
                    "loadbalancerID": "lb-fresh001",
                    "loadbalancerName": "",
                    "allocated": 0,
                },
            ],
        },
    });
    assert_accepted(&crd, &object);
    let pool: CLBPortPool = serde_json::from_value(object.clone()).unwrap();
    let status = pool.status.as_ref().unwrap();
    assert_eq!(status.state, PoolState::Active);
    assert_eq!(status.quota, Some(50));
    assert_eq!(
        status.loadbalancer_statuses[0].state,
        LoadBalancerState::Running
    );
    assert_eq!(
        status.loadbalancer_statuses[2].state,
        LoadBalancerState::Other(String::new())
    );
    assert_eq!(serde_json::to_value(&pool).unwrap(), object);

    // A status the controller has not written yet defaults to Pending.
    let empty: CLBPortPoolStatus = serde_json::from_value(json!({})).unwrap();
    assert_eq!(empty.state, PoolState::Pending);
    assert_eq!(
        serde_json::to_value(&empty).unwrap(),
        json!({"state": "Pending"})
    );
}

/// A `CLBPodBinding` as upstream's controller creates and then updates it for a Pod annotated
/// `7000 TCPUDP pool-test` and `8443 TCP_SSL pool-test certSecret=cert-secret`.
fn upstream_binding() -> Value {
    json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1",
        "kind": "CLBPodBinding",
        "metadata": {
            "name": "gameserver-0",
            "namespace": "demo",
            "finalizers": ["networking.cloud.tencent.com/finalizer"],
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "Pod",
                "name": "gameserver-0",
                "uid": "9b0f8a52-4d6a-4b8e-9d5e-0c3f6a1e2b7c",
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "ports": [
                {"port": 7000, "protocol": "TCPUDP", "pools": ["pool-test"]},
                {"port": 8443, "protocol": "TCP_SSL", "pools": ["pool-test"], "certSecretName": "cert-secret"},
            ],
        },
        "status": {
            "state": "Bound",
            "portBindings": [
                {"port": 7000, "protocol": "TCP", "pool": "pool-test", "region": "ap-chengdu", "loadbalancerId": "lb-6phn6qgb", "loadbalancerPort": 30000, "listenerId": "lbl-qvjvdt9n", "addressIPVersion": "IPV4"},
                {"port": 7000, "protocol": "UDP", "pool": "pool-test", "region": "ap-chengdu", "loadbalancerId": "lb-6phn6qgb", "loadbalancerPort": 30000, "listenerId": "lbl-bbxvltnv", "addressIPVersion": "IPV4"},
                {"port": 8443, "protocol": "TCP_SSL", "certId": "O6TkzGNJ", "pool": "pool-test", "region": "ap-chengdu", "loadbalancerId": "lb-6phn6qgb", "loadbalancerPort": 30001, "listenerId": "lbl-5ssl0001"},
            ],
        },
    })
}

#[test]
fn a_binding_as_upstream_creates_it_reads_back_unchanged() {
    let crd = CLBPodBinding::crd();
    let object = upstream_binding();
    assert_accepted(&crd, &object);
    let binding: CLBPodBinding = serde_json::from_value(object.clone()).unwrap();
    assert_eq!(serde_json::to_value(&binding).unwrap(), object);

    assert!(!binding.spec.is_disabled());
    assert_eq!(binding.spec.ports[0].protocol, BindingProtocol::TcpUdp);
    assert!(!binding.spec.ports[0].same_port_across_pools());
    assert_eq!(
        binding.spec.ports[1].cert_secret_name.as_deref(),
        Some("cert-secret")
    );
    let status = binding.status.unwrap();
    assert_eq!(status.state, BindingState::Bound);
    assert_eq!(status.port_bindings[2].cert_id.as_deref(), Some("O6TkzGNJ"));
    assert_eq!(status.port_bindings[0].public_ip, None);

    // Only the spec, as at creation (no status yet), with the options upstream's parser sets.
    let created = json!({
        "apiVersion": "networking.cloud.tencent.com/v1alpha1",
        "kind": "CLBPodBinding",
        "metadata": {"name": "gameserver-0", "namespace": "demo"},
        "spec": {
            "disabled": true,
            "ports": [{"port": 8000, "protocol": "TCPUDP", "pools": ["pool-ctcc", "pool-cmcc"], "useSamePortAcrossPools": true}],
        },
    });
    assert_accepted(&crd, &created);
    let binding: CLBPodBinding = serde_json::from_value(created.clone()).unwrap();
    assert!(binding.spec.is_disabled());
    assert!(binding.spec.ports[0].same_port_across_pools());
    assert_eq!(serde_json::to_value(&binding).unwrap(), created);
}

#[test]
fn binding_states_outside_our_list_are_kept_verbatim() {
    let mut object = upstream_binding();
    object["status"]["state"] = json!("NodeTypeNotSupported");
    object["status"]["message"] = json!("node is not supported");
    let binding: CLBPodBinding = serde_json::from_value(object.clone()).unwrap();
    assert_eq!(
        binding.status.as_ref().unwrap().state,
        BindingState::Other("NodeTypeNotSupported".into())
    );
    assert_eq!(serde_json::to_value(&binding).unwrap(), object);

    for state in [
        "Pending",
        "Allocated",
        "Bound",
        "NoBackend",
        "WaitBackend",
        "Disabled",
        "Failed",
        "PortPoolNotFound",
        "NoPortAvailable",
        "PortPoolNotAllocatable",
        "Deleting",
    ] {
        let parsed: BindingState = serde_json::from_value(json!(state)).unwrap();
        assert!(!matches!(parsed, BindingState::Other(_)), "{state}");
        assert_eq!(parsed.as_str(), state);
    }
    // The schema takes any string, as upstream's does, and defaults to Pending.
    let schema = schema_of(&CLBPodBinding::crd());
    let state = &schema["properties"]["status"]["properties"]["state"];
    assert_eq!(state["type"], "string");
    assert!(state.get("enum").is_none());
    assert_eq!(state["default"], "Pending");
}

#[test]
fn binding_ports_take_upstreams_protocols_only() {
    let crd = CLBPodBinding::crd();
    let mut object = upstream_binding();
    for protocol in ["TCP", "UDP", "TCPUDP", "TCP_SSL", "QUIC"] {
        object["spec"]["ports"][0]["protocol"] = json!(protocol);
        assert_accepted(&crd, &object);
    }
    object["spec"]["ports"][0]["protocol"] = json!("tcp");
    assert_refused(&crd, &object, "is not one of");
    let mut no_pools = upstream_binding();
    no_pools["spec"]["ports"][0]
        .as_object_mut()
        .unwrap()
        .remove("pools");
    assert_refused(&crd, &no_pools, "pools: required");
}

#[test]
fn port_bindings_sort_as_upstream_sorts_them() {
    let binding: CLBPodBinding = serde_json::from_value(upstream_binding()).unwrap();
    let mut bindings = binding.status.unwrap().port_bindings;
    let expected = bindings.clone();
    bindings.reverse();
    sort_port_bindings(&mut bindings);
    assert_eq!(bindings, expected);
}

#[test]
fn the_pool_kinds_have_upstreams_names_and_ours() {
    let kinds: Vec<_> = all()[3..]
        .iter()
        .map(|crd| {
            assert_eq!(crd.spec.group, GROUP);
            assert_eq!(crd.spec.versions[0].name, VERSION);
            assert_eq!(
                crd.spec.names.categories.as_deref(),
                Some(&[CATEGORY.to_string()][..])
            );
            assert!(
                crd.spec.versions[0]
                    .subresources
                    .as_ref()
                    .unwrap()
                    .status
                    .is_some()
            );
            let columns: Vec<_> = crd.spec.versions[0]
                .additional_printer_columns
                .iter()
                .flatten()
                .map(|c| (c.name.clone(), c.json_path.clone()))
                .collect();
            (
                crd.spec.names.kind.clone(),
                crd.spec.names.plural.clone(),
                crd.spec.scope.clone(),
                crd.spec.names.short_names.clone().unwrap_or_default(),
                columns,
            )
        })
        .collect();
    let column = |name: &str, path: &str| (name.to_string(), path.to_string());
    assert_eq!(
        kinds,
        vec![
            (
                "CLBPortPool".to_string(),
                "clbportpools".to_string(),
                "Cluster".to_string(),
                vec!["cpp".to_string()],
                vec![
                    column("State", ".status.state"),
                    column("Provider", ".spec.provider"),
                    column("Quota", ".status.quota"),
                    column("Age", ".metadata.creationTimestamp"),
                ],
            ),
            (
                "CLBPodBinding".to_string(),
                "clbpodbindings".to_string(),
                "Namespaced".to_string(),
                vec!["cpb".to_string()],
                vec![
                    column("State", ".status.state"),
                    column("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
                    column("Age", ".metadata.creationTimestamp"),
                ],
            ),
        ]
    );
    let yaml = to_yaml().unwrap();
    assert!(yaml.contains("name: clbportpools.networking.cloud.tencent.com"));
    assert!(yaml.contains("name: clbpodbindings.networking.cloud.tencent.com"));
}

#[test]
fn protocols_split_and_map_onto_transports() {
    assert_eq!(
        BindingProtocol::TcpUdp.split(),
        &[BindingProtocol::Tcp, BindingProtocol::Udp]
    );
    assert_eq!(BindingProtocol::Quic.split(), &[BindingProtocol::Quic]);
    assert_eq!(BindingProtocol::TcpSsl.transport(), Some(Protocol::Tcp));
    assert_eq!(BindingProtocol::Quic.transport(), Some(Protocol::Udp));
    assert_eq!(BindingProtocol::TcpUdp.transport(), None);
    assert!(BindingProtocol::TcpSsl.needs_certificate());
    assert!(!BindingProtocol::Udp.needs_certificate());
    for protocol in BindingProtocol::ALL {
        assert_eq!(protocol.as_str().parse::<BindingProtocol>(), Ok(protocol));
        assert_eq!(
            serde_json::to_value(protocol).unwrap(),
            json!(protocol.as_str())
        );
    }
    assert!("udp".parse::<BindingProtocol>().is_err());
}

#[test]
fn a_port_range_slot_reports_its_last_container_port() {
    let binding: CLBPodBinding = serde_json::from_value(upstream_binding()).unwrap();
    let mut slot = binding.status.unwrap().port_bindings[0].clone();
    assert_eq!(slot.end_port(), None);
    slot.loadbalancer_end_port = Some(30009);
    assert_eq!(slot.end_port(), Some(7009));
    slot.loadbalancer_end_port = Some(0);
    assert_eq!(slot.end_port(), None);
}
