//! Building the `DedicatedCLBListener` children of a service: one per Pod port, named after
//! the service, the Pod and the port, so the name alone says what it is for.
use super::labels::{
    ADDRESS_POD_ANNOTATION, BINDING, FINALIZER, ISOLATED, POD, POD_OWNER, POOL, PROVIDER_OPTIONS,
    SERVICE,
};
use crate::allocation::{Allocation, AllocationKey, PortSlot};
use crate::crd::{BackendPod, DedicatedCLBListener, DedicatedCLBListenerSpec, DedicatedCLBService};
use kube::api::{ObjectMeta, Resource, ResourceExt};
use std::collections::BTreeMap;

/// `<service>-<pod>-<protocol>-<targetPort>`; names that would be too long are shortened with
/// a hash so that they stay unique.
pub fn child_name(service: &str, key: &AllocationKey) -> String {
    let name = format!(
        "{service}-{}-{}-{}",
        key.pod_name,
        key.protocol.as_str().to_ascii_lowercase(),
        key.target_port
    );
    if name.len() <= 253 {
        return name;
    }
    let hash = fnv1a(name.as_bytes());
    format!("{}-{hash:016x}", &name[..253 - 17])
}

/// A stable, dependency-free hash for shortened names (the std hasher may change between
/// releases, which would rename children).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The `pod` label's value on a child: the Pod's name, or, for a name longer than a label value
/// may be (63), a stable hash of it, so that every child of a Pod can be listed by one selector
/// (a Pod with an EIP shared by its ports must not lose it while another port still uses it).
pub fn pod_label_value(pod_name: &str) -> String {
    if pod_name.len() <= 63 {
        pod_name.to_string()
    } else {
        format!("hash-{:016x}", fnv1a(pod_name.as_bytes()))
    }
}

/// A label selector for the children of one Pod (filter by `spec.backendPod.podName` too: the
/// hashed form may, in theory, be shared).
pub fn pod_selector(pod_name: &str) -> String {
    format!("{POD}={}", pod_label_value(pod_name))
}

/// The Pod port a child serves, read back from its spec and labels (a binding's child also
/// names the pool its slot comes from).
pub fn allocation_key(child: &DedicatedCLBListener) -> Option<AllocationKey> {
    let pod = child.spec.backend_pod.as_ref()?;
    Some(AllocationKey::in_pool(
        pod.pod_name.clone(),
        child.spec.protocol.into(),
        pod.port,
        child.labels().get(POOL).cloned().unwrap_or_default(),
    ))
}

/// The child of a `CLBPodBinding` for a key: `<pod>-<pool>-<protocol>-<port>`, shortened
/// with a hash when too long.
pub fn binding_child_name(key: &AllocationKey) -> String {
    child_name(
        &key.pod_name,
        &AllocationKey::new(key.pool.clone(), key.protocol, key.target_port),
    )
}

/// The slot a child holds, for `PortPerSlot` providers.
pub fn port_slot(child: &DedicatedCLBListener) -> Option<PortSlot> {
    Some(PortSlot {
        frontend_id: child.spec.lb_id.clone()?,
        public_ip: child.spec.public_ip.clone(),
        port: child.spec.lb_port?,
        protocol: child.spec.protocol.into(),
    })
}

pub fn allocation(child: &DedicatedCLBListener) -> Option<Allocation> {
    Some(Allocation {
        key: allocation_key(child)?,
        slot: port_slot(child)?,
    })
}

/// The child holding an allocation (its Pod port and its slot: two children of one Pod port
/// can exist for a moment, and only the named one may go).
pub fn holding<'a>(
    children: &'a [std::sync::Arc<DedicatedCLBListener>],
    allocation: &Allocation,
) -> Option<&'a std::sync::Arc<DedicatedCLBListener>> {
    children
        .iter()
        .find(|child| self::allocation(child).as_ref() == Some(allocation))
}

/// Deletes this very child: the uid precondition leaves a newer child of the same name (made
/// after the cache last looked) alone. Gone or replaced already is success.
pub async fn delete(
    api: &kube::Api<DedicatedCLBListener>,
    child: &DedicatedCLBListener,
) -> crate::Result<()> {
    let params = kube::api::DeleteParams {
        preconditions: child.uid().map(|uid| kube::api::Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..kube::api::DeleteParams::background()
    };
    match api.delete(&child.name_any(), &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Child writes (creates, deletes) in flight at once for one owner: enough that a frontend's
/// children arrive at its write queue as one burst, which the queue batches into one round of
/// cloud calls; few enough to leave the API server room for everyone else.
const WRITES_IN_FLIGHT: usize = 16;

/// Creates `new` children, a frontend's one after another and several at a time. Made in the
/// order of their Pods instead, a fleet spread over many CLBs reaches each CLB in waves (a
/// Pod's ports, then the next Pod's a whole fleet later), and each wave costs a round of
/// cloud writes. A child that is not made frees its slot again. Returns whether some name is
/// still held by a child being deleted (409: its deletion brings the owner back); any other
/// refusal is the error, after the rest were tried.
pub async fn create_all(
    ctx: &super::Context,
    api: &kube::Api<DedicatedCLBListener>,
    mut new: Vec<DedicatedCLBListener>,
) -> crate::Result<bool> {
    use futures::StreamExt;
    new.sort_by(|a, b| {
        (&a.spec.lb_id, a.metadata.name.as_deref())
            .cmp(&(&b.spec.lb_id, b.metadata.name.as_deref()))
    });
    let params = kube::api::PostParams {
        field_manager: Some(super::labels::MANAGER.into()),
        ..Default::default()
    };
    // The futures are made first, then run: a stream that borrows into its closure trips
    // the compiler's `Send` check of the reconcile futures.
    let creates: Vec<_> = new
        .iter()
        .map(|child| create(api, &params, child))
        .collect();
    let results: Vec<_> = futures::stream::iter(creates)
        .buffer_unordered(WRITES_IN_FLIGHT)
        .collect()
        .await;
    let mut name_taken = false;
    let mut first_error = None;
    for (child, result) in results {
        let Err(error) = result else { continue };
        let namespace = child.namespace().unwrap_or_default();
        ctx.allocation_lock
            .lock()
            .await
            .forget(&namespace, &child.name_any());
        match error {
            kube::Error::Api(status) if status.code == 409 => name_taken = true,
            error => {
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) => Err(error.into()),
        None => Ok(name_taken),
    }
}

/// The created object is dropped at once: the watch brings it, and a fleet's worth of them
/// held until the last create was most of the controller's peak memory.
async fn create<'a>(
    api: &kube::Api<DedicatedCLBListener>,
    params: &kube::api::PostParams,
    child: &'a DedicatedCLBListener,
) -> (&'a DedicatedCLBListener, kube::Result<()>) {
    (child, api.create(params, child).await.map(drop))
}

/// Deletes these very children (see [`delete`]), several at a time. One already being deleted
/// is left to its finalizer: deleting it again costs a request and changes nothing (a fleet
/// scaling down asked three times per child, once per reconcile its releases woke).
pub async fn delete_all<'a>(
    api: &kube::Api<DedicatedCLBListener>,
    children: impl IntoIterator<Item = &'a DedicatedCLBListener>,
) -> crate::Result<()> {
    use futures::StreamExt;
    let deletes: Vec<_> = children
        .into_iter()
        .filter(|child| child.metadata.deletion_timestamp.is_none())
        .map(|child| delete(api, child))
        .collect();
    let results: Vec<crate::Result<()>> = futures::stream::iter(deletes)
        .buffer_unordered(WRITES_IN_FLIGHT)
        .collect()
        .await;
    results.into_iter().collect()
}

/// What a new child should hold.
pub struct ChildTemplate<'a> {
    pub key: &'a AllocationKey,
    /// `None` for `AddressPerPod` providers.
    pub slot: Option<&'a PortSlot>,
    pub address_pod_annotation: Option<&'a str>,
    /// The StatefulSet (either kind) whose Pod it is.
    pub pod_owner: Option<&'a super::pods::SetRef>,
}

/// The annotations that follow the service's spec (so they are kept in step, not only set at
/// creation): the Pod annotation to write the address into, and the provider options.
pub fn synced_annotations(
    service: &DedicatedCLBService,
    address_pod_annotation: Option<&str>,
) -> [(&'static str, Option<String>); 2] {
    let options = service
        .spec
        .eip
        .as_ref()
        .and_then(|eip| serde_json::to_string(eip).ok());
    [
        (
            ADDRESS_POD_ANNOTATION,
            address_pod_annotation.map(str::to_string),
        ),
        (PROVIDER_OPTIONS, options),
    ]
}

pub fn build_child(
    service: &DedicatedCLBService,
    template: &ChildTemplate<'_>,
) -> DedicatedCLBListener {
    let service_name = service.name_any();
    let labels = BTreeMap::from([
        (SERVICE.to_string(), service_name.clone()),
        (POD.to_string(), pod_label_value(&template.key.pod_name)),
    ]);
    let mut annotations: BTreeMap<String, String> =
        synced_annotations(service, template.address_pod_annotation)
            .into_iter()
            .flat_map(|(k, v)| Some((k.to_string(), v?)))
            .collect();
    if let Some(owner) = template.pod_owner {
        annotations.insert(POD_OWNER.to_string(), owner.to_annotation());
    }
    let slot = template.slot;
    DedicatedCLBListener {
        metadata: ObjectMeta {
            name: Some(child_name(&service_name, template.key)),
            namespace: service.namespace(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: service.controller_owner_ref(&()).map(|owner| vec![owner]),
            finalizers: Some(vec![FINALIZER.to_string()]),
            ..Default::default()
        },
        spec: DedicatedCLBListenerSpec {
            provider: service.spec.provider.clone(),
            lb_id: slot.map(|s| s.frontend_id.clone()),
            lb_region: service.spec.lb_region.clone(),
            lb_port: slot.map(|s| s.port),
            public_ip: slot.and_then(|s| s.public_ip.clone()),
            protocol: template.key.protocol.into(),
            listener_config: service.spec.listener_config.clone(),
            backend_pod: Some(BackendPod {
                pod_name: template.key.pod_name.clone(),
                port: template.key.target_port,
            }),
        },
        status: None,
    }
}

/// What a binding's new child holds.
pub struct BindingChild<'a> {
    pub key: &'a AllocationKey,
    pub slot: &'a PortSlot,
    pub provider: &'a str,
    pub region: Option<&'a str>,
    pub isolated: bool,
}

/// A `CLBPodBinding`'s child for one slot of one pool, owned by the binding.
pub fn build_binding_child(
    binding: &crate::crd::CLBPodBinding,
    child: &BindingChild<'_>,
) -> DedicatedCLBListener {
    let labels = BTreeMap::from([
        (BINDING.to_string(), binding.name_any()),
        (POOL.to_string(), child.key.pool.clone()),
        (POD.to_string(), pod_label_value(&child.key.pod_name)),
    ]);
    let annotations = child
        .isolated
        .then(|| BTreeMap::from([(ISOLATED.to_string(), "true".to_string())]));
    DedicatedCLBListener {
        metadata: ObjectMeta {
            name: Some(binding_child_name(child.key)),
            namespace: binding.namespace(),
            labels: Some(labels),
            annotations,
            owner_references: binding.controller_owner_ref(&()).map(|owner| vec![owner]),
            finalizers: Some(vec![FINALIZER.to_string()]),
            ..Default::default()
        },
        spec: DedicatedCLBListenerSpec {
            provider: child.provider.to_string(),
            lb_id: Some(child.slot.frontend_id.clone()),
            lb_region: child.region.map(str::to_string),
            lb_port: Some(child.slot.port),
            public_ip: child.slot.public_ip.clone(),
            protocol: child.key.protocol.into(),
            listener_config: None,
            backend_pod: Some(BackendPod {
                pod_name: child.key.pod_name.clone(),
                port: child.key.target_port,
            }),
        },
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_the_child_is_for() {
        let key = AllocationKey::new("gameserver-0", dac_provider_api::Protocol::Udp, 8000);
        assert_eq!(
            child_name("gameserver", &key),
            "gameserver-gameserver-0-udp-8000"
        );
    }

    #[test]
    fn every_pod_gets_a_valid_label_value() {
        assert_eq!(pod_label_value("gameserver-0"), "gameserver-0");
        let long = format!("{}-0", "g".repeat(70));
        let value = pod_label_value(&long);
        assert!(value.len() <= 63 && value.starts_with("hash-"), "{value}");
        assert_eq!(value, pod_label_value(&long), "stable");
        assert_ne!(value, pod_label_value(&format!("{}-1", "g".repeat(70))));
    }

    #[test]
    fn long_names_stay_unique_and_valid() {
        let a = AllocationKey::new("p".repeat(250), dac_provider_api::Protocol::Tcp, 1);
        let b = AllocationKey::new("p".repeat(250), dac_provider_api::Protocol::Tcp, 2);
        let (name_a, name_b) = (child_name("svc", &a), child_name("svc", &b));
        assert!(name_a.len() <= 253 && name_b.len() <= 253);
        assert_ne!(name_a, name_b);
    }
}
