//! What a Pod is told about its addresses, whichever front door made them, in as few writes as
//! possible: one annotation patch per Pod for all its ports (a service's `addressPodAnnotation`s),
//! the readiness gate `networking.cloud.tencent.com/address-ready` for Pods that declare it, and,
//! when Agones is installed, the Pod's address annotations copied onto its `GameServer`.
//!
//! The pool API's result annotations are written by the binding controller (they need the
//! pool's view); they are mirrored to the GameServer from here.
use super::Context;
use super::cached_pod::CachedPod;
use super::labels::{ADDRESS_POD_ANNOTATION, ISOLATED, MANAGER};
use crate::Result;
use crate::crd::condition::{reasons, types};
use crate::crd::{BindingState, DedicatedCLBListener, ListenerState};
use crate::port_mapping;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, Patch, PatchParams, ResourceExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub const KIND: &str = "PodAddress";
/// The readiness gate a Pod declares to be Ready only once it is reachable.
pub const READINESS_GATE: &str = "networking.cloud.tencent.com/address-ready";
/// The label that names a Pod's Agones GameServer.
pub const AGONES_GAMESERVER: &str = "agones.dev/gameserver";

/// Whether this Pod asks for something from here besides what its children wake us for.
pub fn concerns(pod: &CachedPod) -> bool {
    declares_gate(pod) || pod.labels().contains_key(AGONES_GAMESERVER)
}

/// Whether a child names this Pod as its backend (a scan of the cache: a Pod event costs no
/// request).
pub fn is_backend(pod: &CachedPod, listeners: &Store<DedicatedCLBListener>) -> bool {
    let (namespace, name) = (pod.namespace(), pod.name_any());
    listeners.state().iter().any(|child| {
        child.namespace() == namespace
            && child.spec.backend_pod.as_ref().map(|b| b.pod_name.as_str()) == Some(name.as_str())
    })
}

fn declares_gate(pod: &CachedPod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.readiness_gates.as_ref())
        .is_some_and(|gates| gates.iter().any(|g| g.condition_type == READINESS_GATE))
}

pub async fn reconcile(pod: Arc<CachedPod>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_pod(&pod, &ctx).await;
    ctx.metrics.reconciled(KIND, started.elapsed());
    result
}

async fn reconcile_pod(pod: &CachedPod, ctx: &Context) -> Result<Action> {
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let children: Vec<Arc<DedicatedCLBListener>> = ctx
        .stores
        .listeners
        .state()
        .into_iter()
        .filter(|child| child.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|child| {
            child.spec.backend_pod.as_ref().map(|b| b.pod_name.as_str()) == Some(name.as_str())
        })
        .filter(|child| child.metadata.deletion_timestamp.is_none())
        .collect();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);

    write_addresses(&pods, pod, &children).await?;
    let reachable = reachability(&children, &wanted_ports(pod, ctx));
    if reachable.0 {
        observe_time_to_address(ctx, pod, &children);
    }
    if declares_gate(pod) {
        write_gate(&pods, pod, &reachable).await?;
    }
    if let Some(gameserver) = pod.labels().get(AGONES_GAMESERVER) {
        mirror_to_gameserver(ctx, pod, &namespace, gameserver, &children).await?;
    }
    Ok(Action::await_change())
}

/// The service API's per-port annotations, in one merge patch: a bound child's address under
/// the key its service names; a child that is not bound (any more) takes its own value away.
async fn write_addresses(
    pods: &Api<Pod>,
    pod: &CachedPod,
    children: &[Arc<DedicatedCLBListener>],
) -> Result<()> {
    let current = pod.annotations();
    let mut changes = Map::new();
    for child in children {
        let Some(key) = child.annotations().get(ADDRESS_POD_ANNOTATION) else {
            continue;
        };
        let status = child.status.as_ref();
        let address = status.and_then(|s| s.address.as_deref());
        let bound = status.and_then(|s| s.state) == Some(ListenerState::Bound);
        let want = if bound { address } else { None };
        let have = current.get(key).map(String::as_str);
        match want {
            Some(value) if have != Some(value) => {
                changes.insert(key.clone(), json!(value));
            }
            // Only its own value: another child of the same port may own the key by now.
            None if have.is_some() && have == address => {
                changes.insert(key.clone(), Value::Null);
            }
            _ => {}
        }
    }
    if changes.is_empty() {
        return Ok(());
    }
    let patch = json!({ "metadata": { "annotations": changes } });
    match pods
        .patch(
            &pod.name_any(),
            &PatchParams::apply(MANAGER),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// What the Pod's ports should have, besides the children that exist now: a child for every
/// port of every service that selects it (a port that found no slot has none), and, through
/// the pool API, its own binding `Bound`.
#[derive(Debug, Default)]
struct WantedPorts {
    /// Per selecting service: its name, how many ports it gives each Pod, and the reason of its
    /// `Ready=False` condition, if any (such as `PortsExhausted`).
    services: Vec<(String, usize, Option<String>)>,
    /// The Pod's `CLBPodBinding`: its state, and the reason and message of its `Ready=False`
    /// condition (a binding whose other ports are bound is `Bound` while a line names a pool
    /// that does not exist; its condition still says so).
    binding: Option<(BindingState, Option<(String, String)>)>,
}

fn wanted_ports(pod: &CachedPod, ctx: &Context) -> WantedPorts {
    let namespace = pod.namespace();
    let services = ctx
        .stores
        .services
        .state()
        .into_iter()
        .filter(|service| service.metadata.deletion_timestamp.is_none())
        .filter(|service| super::service::selects(service, pod))
        .map(|service| {
            let not_ready = service
                .status
                .as_ref()
                .and_then(|s| s.conditions.iter().find(|c| c.type_ == types::READY))
                .filter(|c| c.status == "False")
                .map(|c| c.reason.clone());
            (service.name_any(), service.spec.ports.len(), not_ready)
        })
        .collect();
    let binding = ctx
        .stores
        .bindings
        .get(&ObjectRef::new(&pod.name_any()).within(&namespace.unwrap_or_default()))
        .filter(|binding| binding.metadata.deletion_timestamp.is_none())
        .map(|binding| {
            let status = binding.status.clone().unwrap_or_default();
            let not_ready = status
                .conditions
                .iter()
                .find(|c| c.type_ == types::READY && c.status == "False")
                .map(|c| (c.reason.clone(), c.message.clone()));
            (status.state, not_ready)
        });
    WantedPorts { services, binding }
}

/// The service a child belongs to, if a service made it.
fn owning_service(child: &DedicatedCLBListener) -> Option<&str> {
    child
        .owner_references()
        .iter()
        .find(|o| o.kind == "DedicatedCLBService")
        .map(|o| o.name.as_str())
}

/// Whether every port of the Pod is bound, and if not, why (a reason and a message).
fn reachability(
    children: &[Arc<DedicatedCLBListener>],
    wanted: &WantedPorts,
) -> (bool, String, String) {
    let state = |c: &DedicatedCLBListener| c.status.as_ref().and_then(|s| s.state);
    let isolated = children
        .iter()
        .any(|c| c.annotations().get(ISOLATED).map(String::as_str) == Some("true"));
    if isolated || matches!(wanted.binding, Some((BindingState::Disabled, _))) {
        return (
            false,
            "Isolated".into(),
            "the Pod is taken off its addresses (enable-clb-port-mapping: \"false\")".into(),
        );
    }
    let failed: Vec<String> = children
        .iter()
        .filter(|c| state(c) == Some(ListenerState::Failed))
        .map(|c| c.name_any())
        .collect();
    if !failed.is_empty() {
        return (
            false,
            "AddressFailed".into(),
            format!(
                "the address of {} port(s) cannot be made (see their status): {}",
                failed.len(),
                failed.join(", ")
            ),
        );
    }
    if let Some((binding_state, not_ready)) = &wanted.binding {
        match (binding_state, not_ready) {
            // The binding's reasons name what is missing (NoPortAvailable, PortPoolNotFound, ...).
            (_, Some((reason, message))) => {
                let message = format!("CLBPodBinding is {binding_state}: {message}");
                // Still at work: the same word as for a service's port on its way.
                let reason = match reason.as_str() {
                    "Progressing" => "AddressNotBound".to_string(),
                    other => other.to_string(),
                };
                return (false, reason, message);
            }
            (BindingState::Bound, None) => {}
            (other, None) => {
                return (
                    false,
                    "AddressNotBound".into(),
                    format!("CLBPodBinding is {other}"),
                );
            }
        }
    }
    for (service, ports, not_ready) in &wanted.services {
        let have = children
            .iter()
            .filter(|c| owning_service(c) == Some(service.as_str()))
            .count();
        if have < *ports {
            let reason = match not_ready.as_deref() {
                Some(reasons::PORTS_EXHAUSTED) => "PortsExhausted",
                _ => "AddressNotAllocated",
            };
            let reason = reason.to_string();
            return (
                false,
                reason,
                format!(
                    "{} of {ports} port(s) of DedicatedCLBService {service} have no slot yet",
                    ports - have
                ),
            );
        }
    }
    if children.is_empty() {
        return (
            false,
            "NoAddress".into(),
            "no port of this Pod has an address yet".into(),
        );
    }
    let waiting: Vec<String> = children
        .iter()
        .filter(|c| state(c) != Some(ListenerState::Bound))
        .map(|c| c.name_any())
        .collect();
    if waiting.is_empty() {
        (
            true,
            "AddressBound".into(),
            format!("all {} port(s) are bound", children.len()),
        )
    } else {
        (
            false,
            "AddressNotBound".into(),
            format!(
                "{} of {} port(s) not bound yet: {}",
                waiting.len(),
                children.len(),
                waiting.join(", ")
            ),
        )
    }
}

/// The readiness gate's condition, written only when it changes.
async fn write_gate(
    pods: &Api<Pod>,
    pod: &CachedPod,
    (ready, reason, message): &(bool, String, String),
) -> Result<()> {
    let status = if *ready { "True" } else { "False" };
    let existing = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == READINESS_GATE));
    if existing.is_some_and(|c| c.status == status && c.reason.as_deref() == Some(reason.as_str()))
    {
        return Ok(());
    }
    let condition = PodCondition {
        type_: READINESS_GATE.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message.clone()),
        last_transition_time: Some(Time(Timestamp::now())),
        ..Default::default()
    };
    // A strategic merge patch merges conditions by type.
    let patch = json!({ "status": { "conditions": [condition] } });
    match pods
        .patch_status(
            &pod.name_any(),
            &PatchParams::apply(MANAGER),
            &Patch::Strategic(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Copies the Pod's address annotations onto its Agones GameServer, so that an allocation
/// returns them. Nothing when Agones is not installed or the GameServer does not exist.
/// The GameServer records which keys were copied ([`MIRRORED`]): a key the Pod lost (its
/// service or port went) is taken off the GameServer too, so no allocation hands out a dead
/// address.
async fn mirror_to_gameserver(
    ctx: &Context,
    pod: &CachedPod,
    namespace: &str,
    gameserver: &str,
    children: &[Arc<DedicatedCLBListener>],
) -> Result<()> {
    let Some(resource) = ctx.agones_gameservers() else {
        return Ok(());
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), namespace, &resource);
    let Some(found) = api.get_opt(gameserver).await? else {
        return Ok(());
    };
    // The pool API's result and status, and the keys the Pod's services name.
    let keys: Vec<&str> = [
        port_mapping::PORT_MAPPING_RESULT,
        port_mapping::PORT_MAPPING_STATUS,
    ]
    .into_iter()
    .chain(children.iter().filter_map(|c| {
        c.annotations()
            .get(ADDRESS_POD_ANNOTATION)
            .map(String::as_str)
    }))
    .collect();
    let ours: BTreeMap<&str, &str> = pod
        .annotations()
        .iter()
        .filter(|(key, _)| keys.contains(&key.as_str()))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let changes = mirror_changes(found.annotations(), &ours);
    if changes.is_empty() {
        return Ok(());
    }
    let patch = json!({ "metadata": { "annotations": changes } });
    api.patch(
        gameserver,
        &PatchParams::apply(MANAGER),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// On a GameServer: the annotation keys this controller copied from its Pod, comma-separated.
pub const MIRRORED: &str = "networking.cloud.tencent.com/mirrored-annotations";

/// The merge-patch annotations that make a GameServer's copied keys (`have`) equal `ours`:
/// new or changed values, `null` for keys copied before that the Pod no longer has, and the
/// record of what is copied now.
fn mirror_changes(
    have: &BTreeMap<String, String>,
    ours: &BTreeMap<&str, &str>,
) -> Map<String, Value> {
    let mut changes: Map<String, Value> = ours
        .iter()
        .filter(|(key, value)| have.get(**key).map(String::as_str) != Some(**value))
        .map(|(key, value)| (key.to_string(), json!(value)))
        .collect();
    let copied_before = have.get(MIRRORED).map(String::as_str).unwrap_or_default();
    for key in copied_before.split(',').filter(|k| !k.is_empty()) {
        if !ours.contains_key(key) && have.contains_key(key) {
            changes.insert(key.to_string(), Value::Null);
        }
    }
    let record = ours.keys().copied().collect::<Vec<_>>().join(",");
    if record != copied_before {
        changes.insert(
            MIRRORED.to_string(),
            if record.is_empty() {
                Value::Null
            } else {
                json!(record)
            },
        );
    }
    changes
}

/// The first time every port of a Pod is bound: how long it took since the Pod was created.
fn observe_time_to_address(ctx: &Context, pod: &CachedPod, children: &[Arc<DedicatedCLBListener>]) {
    let Some(uid) = pod.uid() else { return };
    if !ctx.first_addressed(&uid) {
        return;
    }
    let Some(created) = pod.metadata.creation_timestamp.as_ref() else {
        return;
    };
    let seconds = Timestamp::now().duration_since(created.0).as_secs_f64();
    let provider = children
        .first()
        .map(|c| c.spec.provider.clone())
        .unwrap_or_default();
    ctx.metrics.time_to_address(&provider, seconds.max(0.0));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_new_address_is_copied_and_recorded() {
        let have = annotations(&[("agones.dev/sdk-version", "1.40")]);
        let ours = BTreeMap::from([("game/address", "1.2.3.4:30000")]);
        let changes = mirror_changes(&have, &ours);
        assert_eq!(changes["game/address"], json!("1.2.3.4:30000"));
        assert_eq!(changes[MIRRORED], json!("game/address"));
        assert_eq!(changes.len(), 2, "nothing else touched: {changes:?}");
    }

    #[test]
    fn an_address_the_pod_lost_is_taken_off_and_others_kept() {
        let have = annotations(&[
            ("game/address", "1.2.3.4:30000"),
            ("game/voice", "1.2.3.4:30001"),
            ("someone/else", "x"),
            (MIRRORED, "game/address,game/voice"),
        ]);
        let ours = BTreeMap::from([("game/address", "1.2.3.4:30000")]);
        let changes = mirror_changes(&have, &ours);
        assert_eq!(changes["game/voice"], Value::Null);
        assert_eq!(changes[MIRRORED], json!("game/address"));
        assert_eq!(changes.len(), 2, "{changes:?}");
    }

    #[test]
    fn everything_gone_clears_the_record_and_in_sync_writes_nothing() {
        let have = annotations(&[
            ("game/address", "1.2.3.4:30000"),
            (MIRRORED, "game/address"),
        ]);
        let changes = mirror_changes(&have, &BTreeMap::new());
        assert_eq!(changes["game/address"], Value::Null);
        assert_eq!(changes[MIRRORED], Value::Null);
        let ours = BTreeMap::from([("game/address", "1.2.3.4:30000")]);
        assert!(mirror_changes(&have, &ours).is_empty());
    }
    fn child(name: &str, service: Option<&str>, state: &str) -> Arc<DedicatedCLBListener> {
        let owners: Vec<Value> = service
            .map(|service| {
                json!({ "apiVersion": "networking.cloud.tencent.com/v1alpha1",
                    "kind": "DedicatedCLBService", "name": service, "uid": "u" })
            })
            .into_iter()
            .collect();
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "networking.cloud.tencent.com/v1alpha1",
                "kind": "DedicatedCLBListener",
                "metadata": { "name": name, "namespace": "ns", "ownerReferences": owners },
                "spec": { "provider": "clb", "protocol": "TCP", "targetPort": 7000 },
                "status": { "state": state },
            }))
            .expect("a listener"),
        )
    }

    fn service(name: &str, ports: usize, not_ready: Option<&str>) -> WantedPorts {
        WantedPorts {
            services: vec![(name.into(), ports, not_ready.map(str::to_string))],
            binding: None,
        }
    }

    #[test]
    fn the_gate_opens_only_when_every_wanted_port_is_bound() {
        let bound = [
            child("a", Some("svc"), "Bound"),
            child("b", Some("svc"), "Bound"),
        ];
        let (ready, reason, _) = reachability(&bound, &service("svc", 2, None));
        assert!(ready, "{reason}");
        // One port found no slot, so it has no child: not reachable, and the reason says why.
        let (ready, reason, message) =
            reachability(&bound[..1], &service("svc", 2, Some("PortsExhausted")));
        assert!(!ready);
        assert_eq!(reason, "PortsExhausted");
        assert!(message.contains("1 of 2"), "{message}");
        let (_, reason, _) = reachability(&bound[..1], &service("svc", 2, None));
        assert_eq!(reason, "AddressNotAllocated");
    }

    #[test]
    fn failed_pending_and_isolated_ports_keep_the_gate_closed() {
        let wanted = service("svc", 2, None);
        let failed = [
            child("a", Some("svc"), "Bound"),
            child("b", Some("svc"), "Failed"),
        ];
        assert_eq!(reachability(&failed, &wanted).1, "AddressFailed");
        let pending = [
            child("a", Some("svc"), "Bound"),
            child("b", Some("svc"), "Pending"),
        ];
        assert_eq!(reachability(&pending, &wanted).1, "AddressNotBound");
        assert_eq!(reachability(&[], &WantedPorts::default()).1, "NoAddress");
        let disabled = WantedPorts {
            services: Vec::new(),
            binding: Some((BindingState::Disabled, None)),
        };
        assert_eq!(reachability(&[], &disabled).1, "Isolated");
    }

    #[test]
    fn a_binding_short_of_ports_names_its_state() {
        let bound = [child("p-7000-tcp", None, "Bound")];
        let short = WantedPorts {
            services: Vec::new(),
            binding: Some((
                BindingState::NoPortAvailable,
                Some(("NoPortAvailable".into(), "pool p is full".into())),
            )),
        };
        let (ready, reason, message) = reachability(&bound, &short);
        assert!(!ready);
        assert_eq!(reason, "NoPortAvailable");
        assert!(message.contains("pool p is full"), "{message}");
        let done = WantedPorts {
            services: Vec::new(),
            binding: Some((BindingState::Bound, None)),
        };
        assert!(reachability(&bound, &done).0);
        // Bound as far as its other ports go, while one line names a pool that does not exist.
        let missing_pool = WantedPorts {
            services: Vec::new(),
            binding: Some((
                BindingState::Bound,
                Some(("PortPoolNotFound".into(), "pool q does not exist".into())),
            )),
        };
        let (ready, reason, _) = reachability(&bound, &missing_pool);
        assert!(!ready);
        assert_eq!(reason, "PortPoolNotFound");
    }
}
