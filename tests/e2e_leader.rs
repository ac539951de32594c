//! Two replicas, one writer: the follower makes no cloud write and no API write; when the
//! leader is killed in the middle of binding 20 Pods, the follower takes over and binds them
//! all, with no duplicate and no leaked listener.
mod support;

use dedicated_address_controller::crd::{DedicatedCLBListener, ListenerState};
use kube::api::{Api, ListParams};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use support::cloud::listeners;
use support::e2e::{CLB_ONLY, E2e, SEED_LBS, SEED_REGION, emulator_config};
use support::eventually;

const WAIT: Duration = Duration::from_secs(120);
const PODS: usize = 20;

#[tokio::test]
async fn the_follower_never_writes_and_takes_over_a_killed_leader() {
    // Slow cloud tasks, so that the kill lands while listeners are still being made.
    let mut e2e = E2e::start("e2e-leader", emulator_config(800), CLB_ONLY).await;
    eventually(WAIT, "the first replica leads", || async {
        if e2e.controller.is_leader().await {
            Ok(())
        } else {
            Err("not leading yet".to_string())
        }
    })
    .await;
    let mut follower = e2e.start_replica("follower").await;
    eventually(WAIT, "the second replica serves, as a follower", || async {
        let metrics = follower.metrics().await;
        if metrics.contains("dedicated_address_leader 0") {
            Ok(())
        } else {
            Err(format!("metrics: {}", metrics.len()))
        }
    })
    .await;

    // Ready as what it is: a follower able to read the lease (so a rollout can go on).
    let readyz = follower.get("/readyz").await;
    assert!(
        matches!(&readyz, Some((200, body)) if body.contains("follower")),
        "a follower's /readyz: {readyz:?}"
    );

    e2e.apply_example("examples/clb/gameserver.yaml").await;
    e2e.scale("gameserver", PODS as i32).await;
    e2e.apply_example("examples/clb/dedicatedclbservice.yaml")
        .await;

    let children: Api<DedicatedCLBListener> = Api::namespaced(e2e.client.clone(), e2e.ns());
    let count_bound = || async {
        let list = children
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?
            .items;
        let bound = list
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
            .count();
        Ok::<_, String>((list.len(), bound))
    };
    eventually(WAIT, "binding under way, far from done", || async {
        let (children, bound) = count_bound().await?;
        if children > 0 && (2..PODS).contains(&bound) {
            Ok(())
        } else {
            Err(format!("{children} children, {bound} bound"))
        }
    })
    .await;

    // While the leader works, the follower has written nothing, anywhere.
    assert!(!follower.is_leader().await, "one leader at a time");
    assert_eq!(
        follower.cloud_writes().await,
        0,
        "the follower made no cloud write"
    );
    assert_eq!(
        follower.kube_writes().await,
        0.0,
        "the follower made no API write:\n{}",
        follower.metrics().await
    );

    let killed_at = Instant::now();
    e2e.controller.kill();
    eventually(WAIT, "the follower leads", || async {
        if follower.is_leader().await {
            Ok(())
        } else {
            Err("still following".to_string())
        }
    })
    .await;
    let takeover = killed_at.elapsed();
    eprintln!("takeover: the follower led {takeover:?} after the leader was killed");
    assert!(
        takeover < Duration::from_secs(30),
        "took over within the lease duration plus a few retries: {takeover:?}"
    );

    eventually(WAIT, "every Pod port bound by the new leader", || async {
        let (children, bound) = count_bound().await?;
        if children == PODS * 2 && bound == PODS * 2 {
            Ok(())
        } else {
            Err(format!("{children} children, {bound} bound"))
        }
    })
    .await;
    let cloud = listeners(&e2e.cloud, SEED_REGION, &SEED_LBS).await.unwrap();
    let slots: BTreeSet<(String, u16, String)> = cloud
        .iter()
        .map(|l| (l.lb_id.clone(), l.port, l.protocol.clone()))
        .collect();
    assert_eq!(slots.len(), cloud.len(), "no duplicate listener: {cloud:?}");
    assert_eq!(cloud.len(), PODS * 2, "no leaked listener: {cloud:?}");
    assert!(
        cloud.iter().all(|l| l.targets.len() == 1),
        "every listener has its one Pod target: {cloud:?}"
    );

    e2e.remove_services().await;
    follower.kill();
}

/// A TCP relay to the API server that can be cut: afterwards its connections are dropped and
/// new ones are accepted but never answered (a partitioned node, as the leader sees it).
struct Relay {
    address: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (cut, is_cut) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *is_cut.borrow() {
                    held.push(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let mut is_cut = is_cut.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = is_cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Self { address, cut }
    }
}

/// A leader cut off from the API server gives leadership up on its own clock, before its lease
/// could expire for a follower (the binary exits then, so it writes nothing more).
#[tokio::test]
async fn a_leader_that_cannot_renew_gives_up_before_its_lease_expires() {
    use dedicated_address_controller::leader::{Elector, LeaseTimings};
    use k8s_openapi::api::coordination::v1::Lease;

    let admin = support::client().await;
    let namespace = support::TestNamespace::create(&admin, "e2e-leader-cut").await;
    let mut config = support::config().await;
    let upstream = format!(
        "{}:{}",
        config.cluster_url.host().unwrap(),
        config.cluster_url.port_u16().unwrap()
    );
    let relay = Relay::start(upstream).await;
    config.cluster_url = format!("https://{}", relay.address).parse().unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let timings = LeaseTimings {
        duration: Duration::from_secs(6),
        renew_deadline: Duration::from_secs(4),
        retry: Duration::from_millis(500),
    };
    let leases: Api<Lease> = Api::namespaced(client, namespace.name());
    let mut elector = Elector::new(leases, "cut-test", "replica-a", timings);
    elector.acquire(|_| {}).await;
    let renewing = tokio::spawn(async move { elector.keep_renewing().await });
    // Renew a few rounds, then cut it off.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !renewing.is_finished(),
        "renews while it can reach the API server"
    );
    let cut_at = Instant::now();
    relay.cut.send(true).unwrap();

    let lost = tokio::time::timeout(timings.duration, renewing)
        .await
        .expect("gives up before the lease could expire")
        .unwrap();
    let gave_up_after = cut_at.elapsed();
    eprintln!("cut off: gave up after {gave_up_after:?} ({lost})");
    // Its last renewal came at most `retry` before the cut.
    assert!(
        gave_up_after + timings.retry < timings.duration,
        "gave up {gave_up_after:?} after the cut, the lease lasts {:?}",
        timings.duration
    );
    assert!(lost.why.contains("no renewal within"), "{lost}");
}
