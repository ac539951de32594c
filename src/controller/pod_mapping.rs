//! The pool API's Pod controller: a Pod's `enable-clb-port-mapping` and `clb-port-mapping`
//! annotations (tke-extend-network-controller's keys, as OpenKruise Game writes them) become
//! its `CLBPodBinding`, named after the Pod and owned by it unless `retain: "true"`.
//!
//! Lines of the mapping that cannot be read are left out of the binding's spec, recorded on the
//! binding for its status, and announced with an Event on the Pod; the other lines bind.
use super::binding::MAPPING_ERRORS;
use super::cached_pod::CachedPod;
use super::labels::MANAGER;
use super::{Context, events};
use crate::Result;
use crate::crd::{CLBPodBinding, CLBPodBindingSpec};
use crate::port_mapping::{self, MappingSwitch, PortMapping};
use kube::Resource;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, ResourceExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const KIND: &str = "Pod";
/// How soon to look again at a Pod whose previous incarnation's binding is being collected.
const WAIT_FOR_COLLECTION: Duration = Duration::from_secs(5);

/// Whether the pool API concerns this Pod at all (anything else is filtered out of the watch).
pub fn concerns(pod: &CachedPod) -> bool {
    pod.annotations()
        .get(port_mapping::ENABLE_PORT_MAPPING)
        .is_some_and(|value| !value.is_empty())
}

pub async fn reconcile(pod: Arc<CachedPod>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_pod(&pod, &ctx).await;
    ctx.metrics.reconciled(KIND, started.elapsed());
    result
}

async fn reconcile_pod(pod: &CachedPod, ctx: &Context) -> Result<Action> {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let annotations = pod.annotations();
    let switch = MappingSwitch::from_annotation(
        annotations
            .get(port_mapping::ENABLE_PORT_MAPPING)
            .map(String::as_str),
    );
    let api: Api<CLBPodBinding> = Api::namespaced(ctx.client.clone(), &namespace);
    let existing = ctx
        .stores
        .bindings
        .get(&ObjectRef::new(&name).within(&namespace));
    let ours = |binding: &CLBPodBinding| {
        let owners = binding.owner_references();
        owners.is_empty() || owners.iter().any(|o| Some(&o.uid) == pod.uid().as_ref())
    };

    let disabled = match switch {
        MappingSwitch::Ignore => return Ok(Action::await_change()),
        MappingSwitch::Remove => {
            if let Some(binding) = existing.filter(|b| ours(b)) {
                match api
                    .delete(&binding.name_any(), &DeleteParams::background())
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(error) => return Err(error.into()),
                }
            }
            return Ok(Action::await_change());
        }
        MappingSwitch::Enabled => false,
        MappingSwitch::Disabled => true,
    };
    if pod.metadata.deletion_timestamp.is_some() {
        // Going: its owner reference (or `retain`) decides what becomes of the binding.
        return Ok(Action::await_change());
    }
    if let Some(binding) = &existing
        && !ours(binding)
    {
        // The binding of an earlier Pod of this name, owned by it: collected soon.
        return Ok(Action::requeue(WAIT_FOR_COLLECTION));
    }

    let mapping = PortMapping::parse(
        annotations
            .get(port_mapping::PORT_MAPPING)
            .map(String::as_str)
            .unwrap_or_default(),
    );
    let errors: Vec<String> = mapping.errors.iter().map(ToString::to_string).collect();
    let spec = mapping.binding_spec(disabled);
    let retained =
        port_mapping::is_retained(annotations.get(port_mapping::RETAIN).map(String::as_str));
    let owners = if retained {
        Vec::new()
    } else {
        pod.controller_owner_ref(&()).into_iter().collect()
    };
    let errors_json =
        (!errors.is_empty()).then(|| serde_json::to_string(&errors).unwrap_or_default());

    match existing {
        None => {
            let binding = CLBPodBinding {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace.clone()),
                    owner_references: (!owners.is_empty()).then_some(owners),
                    annotations: errors_json
                        .clone()
                        .map(|json| BTreeMap::from([(MAPPING_ERRORS.to_string(), json)])),
                    ..Default::default()
                },
                spec,
                status: None,
            };
            let params = PostParams {
                field_manager: Some(MANAGER.into()),
                ..Default::default()
            };
            match api.create(&params, &binding).await {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {}
                Err(error) => return Err(error.into()),
            }
        }
        Some(binding) => {
            let same_owners = binding
                .owner_references()
                .iter()
                .map(|o| &o.uid)
                .eq(owners.iter().map(|o| &o.uid));
            let old_errors = binding.annotations().get(MAPPING_ERRORS).cloned();
            if binding.spec != spec || !same_owners || old_errors != errors_json {
                update(&api, &binding, &spec, &owners, errors_json.as_deref()).await?;
            }
            if old_errors == errors_json {
                return Ok(Action::await_change());
            }
        }
    }
    if !errors.is_empty() {
        events::warn(
            &ctx.recorder,
            &pod.object_ref(&()),
            "InvalidPortMapping",
            format!(
                "{} line(s) of {} were left out: {}",
                errors.len(),
                port_mapping::PORT_MAPPING,
                errors.join("; ")
            ),
        )
        .await;
    }
    Ok(Action::await_change())
}

/// Brings an existing binding's spec, owners and recorded errors in line with the Pod.
async fn update(
    api: &Api<CLBPodBinding>,
    binding: &CLBPodBinding,
    spec: &CLBPodBindingSpec,
    owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    errors: Option<&str>,
) -> Result<()> {
    let patch = json!({
        "metadata": {
            "ownerReferences": owners,
            "annotations": { MAPPING_ERRORS: errors },
        },
        "spec": {
            "disabled": spec.disabled,
            "ports": spec.ports,
        },
    });
    api.patch(
        &binding.name_any(),
        &PatchParams::apply(MANAGER),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}
