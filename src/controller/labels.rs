//! Labels and annotations the controller puts on the objects it manages.

/// On a child listener: the `DedicatedCLBService` that owns it.
pub const SERVICE: &str = "networking.cloud.tencent.com/service";
/// On a child listener: the Pod whose port it serves (also in `spec.backendPod`, but a label
/// lets the controller list a Pod's listeners with one selector).
pub const POD: &str = "networking.cloud.tencent.com/pod";
/// On a child listener: the Pod annotation to write the address into (the service's
/// `ports[].addressPodAnnotation`), copied so that the listener controller needs no lookup.
pub const ADDRESS_POD_ANNOTATION: &str = "networking.cloud.tencent.com/address-pod-annotation";
/// On a child listener: `StatefulSet/<name>` when its Pod belongs to a StatefulSet, so that a
/// missing Pod whose ordinal is still wanted keeps its slot (and so its address).
pub const POD_OWNER: &str = "networking.cloud.tencent.com/pod-owner";
/// On a child listener: the service's provider-specific options as JSON (e.g. its `eip`
/// section), handed to the provider with every call.
pub const PROVIDER_OPTIONS: &str = "networking.cloud.tencent.com/provider-options";
/// On a child listener: the `CLBPodBinding` that owns it.
pub const BINDING: &str = "networking.cloud.tencent.com/clbpodbinding";
/// On a child listener of a binding: the `CLBPortPool` its slot comes from.
pub const POOL: &str = "networking.cloud.tencent.com/clbportpool";
/// On a child listener: `"true"` while its Pod is isolated (`enable-clb-port-mapping:
/// "false"`): the address stays, the target goes.
pub const ISOLATED: &str = "networking.cloud.tencent.com/isolated";
/// The finalizer on port pools, so that the CLBs a pool auto-created are deleted with it.
pub const POOL_FINALIZER: &str = "networking.cloud.tencent.com/port-pool";
/// The field manager of every write.
pub const MANAGER: &str = "dedicated-address-controller";
/// Holds a listener until its cloud resource is released.
pub const FINALIZER: &str = "networking.cloud.tencent.com/release-address";
