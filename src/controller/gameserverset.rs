//! OpenKruise Game: a `GameServerSet` whose network is `TencentCloud-CLB` gets the port pool its
//! game servers' annotations name, `<namespace>-<gameserverset>`, built from its `networkConf`
//! (`ClbIds`, `MinPort` default 30000, `ListenerQuota`, as tke-extend-network-controller does;
//! `MaxPort` and `Region` are ours). OKG's own plugin writes the Pod annotations; the pool API
//! does the rest. The pool follows the set's changes and goes with it (a finalizer on the set,
//! since a cluster-scoped pool cannot be owned by a namespaced set).
//!
//! The kinds are OKG's, discovered at run time: a cluster without OKG needs nothing of this.
use super::Context;
use super::labels::MANAGER;
use crate::crd::{CLBPortPool, CLBPortPoolSpec};
use crate::{Error, Result};
use kube::api::{Api, DeleteParams, DynamicObject, ObjectMeta, Patch, PatchParams, ResourceExt};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const KIND: &str = "GameServerSet";
/// OKG's network type served here.
pub const NETWORK_TYPE: &str = "TencentCloud-CLB";
/// On a pool made for a GameServerSet: `<namespace>.<name>`.
pub const GAMESERVERSET_LABEL: &str = "networking.cloud.tencent.com/gameserverset";
const FINALIZER: &str = "networking.cloud.tencent.com/port-pool";
/// upstream's default first port.
const DEFAULT_MIN_PORT: u16 = 30000;

/// OKG's `GameServerSet` kind.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("game.kruise.io", "v1alpha1", "GameServerSet"),
        "gameserversets",
    )
}

/// The pool a set's game servers use.
pub fn pool_name(namespace: &str, name: &str) -> String {
    format!("{namespace}-{name}")
}

pub async fn reconcile(set: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let namespace = set.namespace().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource());
    let result = finalizer(&api, FINALIZER, set, |event| async {
        match event {
            Finalizer::Apply(set) => apply(&set, &ctx).await,
            Finalizer::Cleanup(set) => cleanup(&set, &ctx).await,
        }
    })
    .await
    .map_err(|error| Error::Finalizer(Box::new(error)));
    ctx.metrics.reconciled(KIND, started.elapsed());
    result
}

/// The pool spec a set's `networkConf` asks for, or `None` when its network is not ours.
pub fn pool_spec(set: &serde_json::Value) -> Option<CLBPortPoolSpec> {
    let network = &set["spec"]["network"];
    if network["networkType"].as_str() != Some(NETWORK_TYPE) {
        return None;
    }
    let conf: BTreeMap<&str, &str> = network["networkConf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| Some((entry["name"].as_str()?, entry["value"].as_str()?)))
        .collect();
    let number = |key: &str| conf.get(key).and_then(|v| v.trim().parse::<u16>().ok());
    let ids: Vec<String> = conf
        .get("ClbIds")
        .map(|ids| {
            ids.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Some(CLBPortPoolSpec {
        provider: crate::crd::DEFAULT_PROVIDER.to_string(),
        start_port: number("MinPort").unwrap_or(DEFAULT_MIN_PORT),
        end_port: number("MaxPort"),
        listener_quota: number("ListenerQuota"),
        region: conf
            .get("Region")
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
        exsisted_load_balancer_ids: (!ids.is_empty()).then_some(ids),
        ..CLBPortPoolSpec::default()
    })
}

async fn apply(set: &DynamicObject, ctx: &Context) -> Result<Action> {
    let namespace = set.namespace().unwrap_or_default();
    let name = set.name_any();
    let pools: Api<CLBPortPool> = Api::all(ctx.client.clone());
    let pool = pool_name(&namespace, &name);
    let value = serde_json::to_value(set).map_err(Error::Serialize)?;
    let Some(spec) = pool_spec(&value) else {
        // Not (or no longer) ours: a pool made for it earlier goes.
        delete_pool(&pools, &pool, &namespace, &name).await?;
        return Ok(Action::await_change());
    };
    let mut labels = BTreeMap::from([(
        GAMESERVERSET_LABEL.to_string(),
        format!("{namespace}.{name}"),
    )]);
    // A namespace-scoped controller manages the pools of its namespace's sets.
    if let Some(own) = &ctx.namespace {
        labels.insert(super::pool::MANAGED_BY_NAMESPACE.to_string(), own.clone());
    }
    let desired = CLBPortPool {
        metadata: ObjectMeta {
            name: Some(pool.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        spec,
        status: None,
    };
    let params = PatchParams::apply(MANAGER).force();
    pools.patch(&pool, &params, &Patch::Apply(&desired)).await?;
    Ok(Action::await_change())
}

async fn cleanup(set: &DynamicObject, ctx: &Context) -> Result<Action> {
    let pools: Api<CLBPortPool> = Api::all(ctx.client.clone());
    let namespace = set.namespace().unwrap_or_default();
    let name = set.name_any();
    delete_pool(&pools, &pool_name(&namespace, &name), &namespace, &name).await?;
    Ok(Action::await_change())
}

/// Deletes the set's pool, if this controller made it for that set.
async fn delete_pool(
    pools: &Api<CLBPortPool>,
    pool: &str,
    namespace: &str,
    name: &str,
) -> Result<()> {
    let Some(found) = pools.get_opt(pool).await? else {
        return Ok(());
    };
    let ours = found.labels().get(GAMESERVERSET_LABEL).map(String::as_str)
        == Some(format!("{namespace}.{name}").as_str());
    if ours {
        match pools.delete(pool, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Waits until OKG's `GameServerSet` kind is served (checked now and then: OKG may be installed
/// after us).
pub async fn discovered(client: &kube::Client) -> ApiResource {
    let gvk = GroupVersionKind::gvk("game.kruise.io", "v1alpha1", "GameServerSet");
    loop {
        if let Ok((resource, _)) = kube::discovery::pinned_kind(client, &gvk).await {
            tracing::info!(
                "OpenKruise Game found: GameServerSets with network TencentCloud-CLB get port pools"
            );
            return resource;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn network_conf_becomes_the_pool_spec() {
        let set = json!({"spec": {"network": {"networkType": "TencentCloud-CLB", "networkConf": [
            {"name": "ClbIds", "value": "lb-a, lb-b,,"},
            {"name": "PortProtocols", "value": "7777/UDP"},
            {"name": "ListenerQuota", "value": "100"},
        ]}}});
        let spec = pool_spec(&set).unwrap();
        assert_eq!(spec.start_port, 30000);
        assert_eq!(spec.listener_quota, Some(100));
        assert_eq!(
            spec.exsisted_load_balancer_ids,
            Some(vec!["lb-a".to_string(), "lb-b".to_string()])
        );
        let other = json!({"spec": {"network": {"networkType": "Kubernetes-HostPort"}}});
        assert!(pool_spec(&other).is_none());
        let ranged = json!({"spec": {"network": {"networkType": "TencentCloud-CLB", "networkConf": [
            {"name": "MinPort", "value": "31000"}, {"name": "MaxPort", "value": "31999"},
            {"name": "Region", "value": "ap-chengdu"},
        ]}}});
        let spec = pool_spec(&ranged).unwrap();
        assert_eq!((spec.start_port, spec.end_port), (31000, Some(31999)));
        assert_eq!(spec.region.as_deref(), Some("ap-chengdu"));
    }
}
