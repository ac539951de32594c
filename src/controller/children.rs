//! Building the `DedicatedCLBListener` children of a service: one per Pod port, named after
//! the service, the Pod and the port, so the name alone says what it is for.
use super::labels::{ADDRESS_POD_ANNOTATION, POD, POD_OWNER, PROVIDER_OPTIONS, SERVICE};
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

/// The Pod port a child serves, read back from its spec and labels.
pub fn allocation_key(child: &DedicatedCLBListener) -> Option<AllocationKey> {
    let pod = child.spec.backend_pod.as_ref()?;
    Some(AllocationKey::new(
        pod.pod_name.clone(),
        child.spec.protocol.into(),
        pod.port,
    ))
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

/// What a new child should hold.
pub struct ChildTemplate<'a> {
    pub key: &'a AllocationKey,
    /// `None` for `AddressPerPod` providers.
    pub slot: Option<&'a PortSlot>,
    pub address_pod_annotation: Option<&'a str>,
    /// `StatefulSet/<name>` when the Pod is a StatefulSet's.
    pub pod_owner: Option<&'a str>,
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
    let mut labels = BTreeMap::from([(SERVICE.to_string(), service_name.clone())]);
    // Label values are at most 63 characters; longer Pod names go without the shortcut label.
    if template.key.pod_name.len() <= 63 {
        labels.insert(POD.to_string(), template.key.pod_name.clone());
    }
    let mut annotations: BTreeMap<String, String> =
        synced_annotations(service, template.address_pod_annotation)
            .into_iter()
            .flat_map(|(k, v)| Some((k.to_string(), v?)))
            .collect();
    if let Some(owner) = template.pod_owner {
        annotations.insert(POD_OWNER.to_string(), owner.to_string());
    }
    let slot = template.slot;
    DedicatedCLBListener {
        metadata: ObjectMeta {
            name: Some(child_name(&service_name, template.key)),
            namespace: service.namespace(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: service.controller_owner_ref(&()).map(|owner| vec![owner]),
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
    fn long_names_stay_unique_and_valid() {
        let a = AllocationKey::new("p".repeat(250), dac_provider_api::Protocol::Tcp, 1);
        let b = AllocationKey::new("p".repeat(250), dac_provider_api::Protocol::Tcp, 2);
        let (name_a, name_b) = (child_name("svc", &a), child_name("svc", &b));
        assert!(name_a.len() <= 253 && name_b.len() <= 253);
        assert_ne!(name_a, name_b);
    }
}
