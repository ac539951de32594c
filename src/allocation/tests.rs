use super::*;
use Protocol::{Tcp, Udp};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};

fn clb(id: &str, capacity: u32) -> Frontend {
    Frontend {
        id: id.into(),
        public_ips: vec![],
        capacity,
        port_range: None,
        taken: Vec::new(),
        problem: None,
        tags: Default::default(),
        display: Default::default(),
    }
}

fn gateway(id: &str, ips: &[&str], capacity: u32, min: u16, max: u16) -> Frontend {
    Frontend {
        id: id.into(),
        public_ips: ips.iter().map(|ip| ip.to_string()).collect(),
        capacity,
        port_range: Some(PortRange { min, max }),
        taken: Vec::new(),
        problem: None,
        tags: Default::default(),
        display: Default::default(),
    }
}

fn range(min: u16, max: u16) -> Option<PortRange> {
    Some(PortRange { min, max })
}

fn key(pod: &str, protocol: Protocol, target_port: u16) -> AllocationKey {
    AllocationKey::new(pod, protocol, target_port)
}

fn slot(frontend: &str, port: u16, protocol: Protocol) -> PortSlot {
    PortSlot {
        frontend_id: frontend.into(),
        public_ip: None,
        port,
        protocol,
    }
}

fn nat_slot(frontend: &str, ip: &str, port: u16, protocol: Protocol) -> PortSlot {
    PortSlot {
        public_ip: Some(ip.into()),
        ..slot(frontend, port, protocol)
    }
}

fn allocation(key: AllocationKey, slot: PortSlot) -> Allocation {
    Allocation { key, slot }
}

/// Seed 000's ports for each Pod.
fn game_ports(pods: &[&str]) -> Vec<AllocationKey> {
    pods.iter()
        .flat_map(|pod| [key(pod, Tcp, 9000), key(pod, Udp, 8000)])
        .collect()
}

struct Case {
    frontends: Vec<Frontend>,
    port_range: Option<PortRange>,
    existing: Vec<Allocation>,
    occupied: Vec<PortSlot>,
    wanted: Vec<AllocationKey>,
}

impl Case {
    fn new(
        frontends: Vec<Frontend>,
        port_range: Option<PortRange>,
        wanted: Vec<AllocationKey>,
    ) -> Self {
        Self {
            frontends,
            port_range,
            existing: vec![],
            occupied: vec![],
            wanted,
        }
    }

    fn plan(&self) -> AllocationPlan {
        plan(&AllocationInput {
            frontends: &self.frontends,
            port_range: self.port_range,
            existing: &self.existing,
            occupied: &self.occupied,
            wanted: &self.wanted,
            pools: &[],
            same_port: &[],
        })
    }

    /// The plan after the previous one was carried out: children created and deleted.
    fn apply(&mut self, plan: &AllocationPlan) {
        self.existing = plan.keep.iter().chain(&plan.assign).cloned().collect();
    }
}

fn assigned(plan: &AllocationPlan) -> Vec<(String, Protocol, PortSlot)> {
    plan.assign
        .iter()
        .map(|a| (a.key.pod_name.clone(), a.key.protocol, a.slot.clone()))
        .collect()
}

#[test]
fn seed_000_spreads_pods_and_pairs_tcp_with_udp() {
    let case = Case::new(
        vec![clb("lb-xxx", 50), clb("lb-yyy", 50), clb("lb-zzz", 50)],
        range(501, 600),
        game_ports(&["gs-0", "gs-1", "gs-2", "gs-3"]),
    );
    let plan = case.plan();
    assert!(plan.keep.is_empty() && plan.release.is_empty() && plan.exhausted.is_empty());
    assert_eq!(
        assigned(&plan),
        vec![
            // Each Pod on one CLB (one VIP), TCP and UDP on the same port number; Pods spread
            // over the CLBs with the most room, the user's order breaking ties.
            ("gs-0".into(), Tcp, slot("lb-xxx", 501, Tcp)),
            ("gs-0".into(), Udp, slot("lb-xxx", 501, Udp)),
            ("gs-1".into(), Tcp, slot("lb-yyy", 501, Tcp)),
            ("gs-1".into(), Udp, slot("lb-yyy", 501, Udp)),
            ("gs-2".into(), Tcp, slot("lb-zzz", 501, Tcp)),
            ("gs-2".into(), Udp, slot("lb-zzz", 501, Udp)),
            ("gs-3".into(), Tcp, slot("lb-xxx", 502, Tcp)),
            ("gs-3".into(), Udp, slot("lb-xxx", 502, Udp)),
        ]
    );
}

#[test]
fn a_second_plan_changes_nothing() {
    let mut case = Case::new(
        vec![clb("lb-1", 50), clb("lb-2", 50)],
        range(501, 600),
        game_ports(&["gs-0", "gs-1", "gs-2"]),
    );
    let first = case.plan();
    case.apply(&first);
    let second = case.plan();
    assert!(second.assign.is_empty() && second.release.is_empty() && second.exhausted.is_empty());
    assert_eq!(second.keep.len(), 6);
}

#[test]
fn a_pod_recreated_under_its_name_keeps_its_slot() {
    let mut case = Case::new(
        vec![clb("lb-1", 50)],
        range(501, 600),
        game_ports(&["gs-0", "gs-1", "gs-2"]),
    );
    let first = case.plan();
    case.apply(&first);

    // gs-1 is deleted; its StatefulSet will recreate it, so the caller still wants its name.
    // Meanwhile gs-3 appears: it must not take gs-1's ports.
    case.wanted = game_ports(&["gs-0", "gs-1", "gs-2", "gs-3"]);
    let second = case.plan();
    let gs1: Vec<_> = second
        .keep
        .iter()
        .filter(|a| a.key.pod_name == "gs-1")
        .collect();
    assert_eq!(gs1.len(), 2);
    assert!(gs1.iter().all(|a| a.slot.port == 502));
    assert_eq!(second.assign.len(), 2);
    assert!(second.assign.iter().all(|a| a.slot.port == 504));
}

#[test]
fn exhaustion_is_reported_per_pod_port_while_others_keep_theirs() {
    let mut case = Case::new(
        vec![clb("lb-1", 50)],
        range(501, 502),
        vec![key("gs-0", Tcp, 9000), key("gs-1", Tcp, 9000)],
    );
    let first = case.plan();
    case.apply(&first);

    case.wanted = vec![
        key("gs-0", Tcp, 9000),
        key("gs-1", Tcp, 9000),
        key("gs-2", Tcp, 9000),
        key("gs-2", Udp, 8000),
    ];
    let second = case.plan();
    assert_eq!(second.keep, case.existing);
    // UDP still has room; TCP does not.
    assert_eq!(
        assigned(&second),
        vec![("gs-2".into(), Udp, slot("lb-1", 501, Udp))]
    );
    assert_eq!(second.exhausted, vec![key("gs-2", Tcp, 9000)]);
}

#[test]
fn capacity_caps_new_slots_and_spills_to_the_next_frontend() {
    let case = Case::new(
        vec![clb("lb-1", 3), clb("lb-2", 1)],
        range(501, 600),
        (0..5).map(|i| key(&format!("gs-{i}"), Tcp, 9000)).collect(),
    );
    let plan = case.plan();
    let on = |id: &str| {
        plan.assign
            .iter()
            .filter(|a| a.slot.frontend_id == id)
            .count()
    };
    assert_eq!((on("lb-1"), on("lb-2")), (3, 1));
    assert_eq!(plan.exhausted, vec![key("gs-4", Tcp, 9000)]);
}

#[test]
fn a_shrunken_quota_takes_no_working_address_away() {
    let mut case = Case::new(
        vec![clb("lb-1", 50)],
        range(501, 600),
        (0..3).map(|i| key(&format!("gs-{i}"), Tcp, 9000)).collect(),
    );
    let first = case.plan();
    case.apply(&first);

    case.frontends = vec![clb("lb-1", 2)];
    case.wanted.push(key("gs-3", Tcp, 9000));
    let second = case.plan();
    assert_eq!(second.keep.len(), 3);
    assert_eq!(second.exhausted, vec![key("gs-3", Tcp, 9000)]);
}

#[test]
fn slots_of_other_resources_are_skipped_and_count_against_capacity() {
    let mut case = Case::new(
        vec![clb("lb-1", 3)],
        range(501, 600),
        game_ports(&["gs-0", "gs-1"]),
    );
    case.occupied = vec![slot("lb-1", 501, Tcp), slot("lb-1", 502, Udp)];
    let plan = case.plan();
    // TCP 501 is taken, so gs-0 gets TCP 502; with the two occupied slots that fills the quota
    // (3), and every other Pod port is exhausted.
    assert_eq!(
        assigned(&plan),
        vec![("gs-0".into(), Tcp, slot("lb-1", 502, Tcp))]
    );
    assert_eq!(
        plan.exhausted,
        vec![
            key("gs-0", Udp, 8000),
            key("gs-1", Tcp, 9000),
            key("gs-1", Udp, 8000)
        ]
    );

    case.frontends = vec![clb("lb-1", 10)];
    // With room: UDP would follow TCP to 502, which is occupied, so it takes the lowest free
    // UDP port; gs-1 then pairs its ports on 503.
    let plan = case.plan();
    assert_eq!(
        assigned(&plan),
        vec![
            ("gs-0".into(), Tcp, slot("lb-1", 502, Tcp)),
            ("gs-0".into(), Udp, slot("lb-1", 501, Udp)),
            ("gs-1".into(), Tcp, slot("lb-1", 503, Tcp)),
            ("gs-1".into(), Udp, slot("lb-1", 503, Udp)),
        ]
    );
}

#[test]
fn allocations_that_no_longer_fit_are_released_and_redone() {
    let mut case = Case::new(
        vec![clb("lb-1", 50), clb("lb-2", 50)],
        range(501, 600),
        vec![
            key("gone-frontend", Tcp, 1),
            key("out-of-range", Tcp, 1),
            key("conflict", Tcp, 1),
            key("duplicate", Tcp, 1),
            key("mismatch", Tcp, 1),
        ],
    );
    case.existing = vec![
        allocation(key("gone-frontend", Tcp, 1), slot("lb-removed", 501, Tcp)),
        allocation(key("out-of-range", Tcp, 1), slot("lb-1", 700, Tcp)),
        allocation(key("conflict", Tcp, 1), slot("lb-1", 510, Tcp)),
        allocation(key("duplicate", Tcp, 1), slot("lb-1", 520, Tcp)),
        allocation(key("duplicate", Tcp, 1), slot("lb-2", 520, Tcp)),
        allocation(key("mismatch", Tcp, 1), slot("lb-1", 530, Udp)),
        allocation(key("scaled-down", Tcp, 1), slot("lb-1", 540, Tcp)),
    ];
    case.occupied = vec![slot("lb-1", 510, Tcp)];
    let plan = case.plan();

    let reasons: Vec<_> = plan
        .release
        .iter()
        .map(|r| (r.key.pod_name.as_str(), r.slot.port, r.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("conflict", 510, ReleaseReason::Conflict),
            ("duplicate", 520, ReleaseReason::Duplicate),
            ("gone-frontend", 501, ReleaseReason::FrontendGone),
            ("mismatch", 530, ReleaseReason::ProtocolMismatch),
            ("out-of-range", 700, ReleaseReason::OutOfRange),
            ("scaled-down", 540, ReleaseReason::NotWanted),
        ]
    );
    assert_eq!(
        plan.keep,
        vec![allocation(key("duplicate", Tcp, 1), slot("lb-1", 520, Tcp))]
    );
    // Every wanted Pod port that lost its slot gets a new one, never one still being released.
    let released: HashSet<_> = case.existing.iter().map(|a| &a.slot).collect();
    assert_eq!(plan.assign.len(), 4);
    assert!(plan.assign.iter().all(|a| !released.contains(&a.slot)));
    assert!(plan.exhausted.is_empty());
}

#[test]
fn a_released_slot_is_not_reused_in_the_same_plan() {
    let mut case = Case::new(
        vec![clb("lb-1", 50)],
        range(501, 600),
        vec![key("gs-5", Tcp, 9000)],
    );
    case.existing = vec![allocation(key("gs-0", Tcp, 9000), slot("lb-1", 501, Tcp))];
    let plan = case.plan();
    assert_eq!(plan.release.len(), 1);
    assert_eq!(
        assigned(&plan),
        vec![("gs-5".into(), Tcp, slot("lb-1", 502, Tcp))]
    );
}

#[test]
fn nat_gateways_offer_a_port_space_per_eip_within_both_ranges() {
    let case = Case::new(
        vec![gateway("nat-1", &["1.1.1.1", "2.2.2.2"], 100, 1000, 1001)],
        range(900, 1100),
        (0..5).map(|i| key(&format!("gs-{i}"), Udp, 7777)).collect(),
    );
    let plan = case.plan();
    assert_eq!(
        assigned(&plan),
        vec![
            ("gs-0".into(), Udp, nat_slot("nat-1", "1.1.1.1", 1000, Udp)),
            ("gs-1".into(), Udp, nat_slot("nat-1", "2.2.2.2", 1000, Udp)),
            ("gs-2".into(), Udp, nat_slot("nat-1", "1.1.1.1", 1001, Udp)),
            ("gs-3".into(), Udp, nat_slot("nat-1", "2.2.2.2", 1001, Udp)),
        ]
    );
    assert_eq!(plan.exhausted, vec![key("gs-4", Udp, 7777)]);

    // A rule on an EIP the gateway no longer offers is moved.
    let mut moved = Case::new(
        vec![gateway("nat-1", &["2.2.2.2"], 100, 1000, 1001)],
        None,
        vec![key("gs-0", Udp, 7777)],
    );
    moved.existing = vec![allocation(
        key("gs-0", Udp, 7777),
        nat_slot("nat-1", "1.1.1.1", 1000, Udp),
    )];
    let plan = moved.plan();
    assert_eq!(plan.release[0].reason, ReleaseReason::FrontendGone);
    assert_eq!(plan.assign[0].slot, nat_slot("nat-1", "2.2.2.2", 1000, Udp));
}

#[test]
fn ranges_default_to_every_port_and_may_not_overlap() {
    let plan = Case::new(vec![clb("lb-1", 5)], None, vec![key("gs-0", Tcp, 1)]).plan();
    assert_eq!(plan.assign[0].slot.port, 1);

    let plan = Case::new(
        vec![gateway("nat-1", &["1.1.1.1"], 5, 1000, 2000)],
        range(3000, 4000),
        vec![key("gs-0", Tcp, 1)],
    )
    .plan();
    assert_eq!(plan.exhausted, vec![key("gs-0", Tcp, 1)]);

    let plan = Case::new(
        vec![clb("lb-1", 5)],
        range(65535, 65535),
        vec![key("gs-0", Tcp, 1), key("gs-1", Tcp, 1)],
    )
    .plan();
    assert_eq!(plan.assign[0].slot.port, 65535);
    assert_eq!(plan.exhausted.len(), 1);
}

#[test]
fn statefulset_pods_are_allocated_in_ordinal_order() {
    let plan = Case::new(
        vec![clb("lb-1", 50)],
        range(501, 600),
        ["gs-10", "gs-2", "gs-1", "gs-0"]
            .iter()
            .map(|pod| key(pod, Tcp, 9000))
            .collect(),
    )
    .plan();
    let ports: Vec<_> = plan
        .assign
        .iter()
        .map(|a| (a.key.pod_name.as_str(), a.slot.port))
        .collect();
    assert_eq!(
        ports,
        vec![("gs-0", 501), ("gs-1", 502), ("gs-2", 503), ("gs-10", 504)]
    );
}

#[test]
fn natural_order_is_total() {
    assert_eq!(natural_cmp("gs-2", "gs-10"), Ordering::Less);
    assert_eq!(natural_cmp("gs-10", "gs-10"), Ordering::Equal);
    assert_eq!(natural_cmp("a", "a-0"), Ordering::Less);
    assert_eq!(natural_cmp("b", "a1"), Ordering::Greater);
    // Numerically equal, different strings: still ordered, never Equal.
    assert_ne!(natural_cmp("a01", "a1"), Ordering::Equal);
    assert_eq!(natural_cmp("a01", "a1"), natural_cmp("a1", "a01").reverse());
}

// ---- property-style test -------------------------------------------------------------------

const PROTOCOLS: [Protocol; 2] = [Tcp, Udp];

fn random_case(rng: &mut StdRng) -> Case {
    let frontends: Vec<Frontend> = (0..rng.random_range(1..=3))
        .map(|f| Frontend {
            id: format!("f{f}"),
            public_ips: (0..rng.random_range(0..=2))
                .map(|i| format!("10.0.{f}.{i}"))
                .collect(),
            capacity: rng.random_range(0..=10),
            port_range: rng.random_bool(0.4).then(|| {
                let min = rng.random_range(98..=106);
                PortRange {
                    min,
                    max: min + rng.random_range(0..=8),
                }
            }),
            taken: Vec::new(),
            problem: None,
            tags: Default::default(),
            display: Default::default(),
        })
        .collect();
    let port_range = if rng.random_bool(0.9) {
        let min = rng.random_range(100..=104);
        range(min, min + rng.random_range(0..=6))
    } else {
        None
    };
    // Frontend ids and public IPs slots may name, including ones that are not offered.
    let random_slot = |rng: &mut StdRng, protocol: Protocol| {
        let f = rng.random_range(0..=3);
        let public_ip = match rng.random_range(0..3) {
            0 => None,
            _ => Some(format!("10.0.{f}.{}", rng.random_range(0..=2))),
        };
        PortSlot {
            frontend_id: format!("f{f}"),
            public_ip,
            port: rng.random_range(97..=112),
            protocol,
        }
    };
    let keys: Vec<AllocationKey> = (0..rng.random_range(0..=8))
        .flat_map(|p| {
            [(Tcp, 80), (Udp, 80), (Tcp, 81)]
                .into_iter()
                .map(move |(protocol, port)| key(&format!("p{p}"), protocol, port))
        })
        .collect();
    let wanted = keys
        .iter()
        .filter(|_| rng.random_bool(0.7))
        .cloned()
        .collect();
    let mut existing = Vec::new();
    for key in &keys {
        for _ in 0..rng.random_range(0..=2) {
            let protocol = if rng.random_bool(0.9) {
                key.protocol
            } else {
                PROTOCOLS[rng.random_range(0..2)]
            };
            existing.push(allocation(key.clone(), random_slot(rng, protocol)));
        }
    }
    let occupied = (0..rng.random_range(0..=6))
        .map(|_| {
            let protocol = PROTOCOLS[rng.random_range(0..2)];
            random_slot(rng, protocol)
        })
        .collect();
    Case {
        frontends,
        port_range,
        existing,
        occupied,
        wanted,
    }
}

/// The ports `frontend` offers in `case`, computed independently of the allocator.
fn offered_range(case: &Case, frontend: &Frontend) -> Option<PortRange> {
    let all = PortRange { min: 1, max: 65535 };
    frontend
        .port_range
        .unwrap_or(all)
        .intersect(&case.port_range.unwrap_or(all))
}

/// The public IPs of `frontend`; `None` is its one implicit address.
fn offered_ips(frontend: &Frontend) -> Vec<Option<String>> {
    if frontend.public_ips.is_empty() {
        vec![None]
    } else {
        frontend.public_ips.iter().cloned().map(Some).collect()
    }
}

/// Whether `slot` is one `frontend` offers in `case`.
fn offers(case: &Case, frontend: &Frontend, slot: &PortSlot) -> bool {
    slot.frontend_id == frontend.id
        && offered_ips(frontend).contains(&slot.public_ip)
        && offered_range(case, frontend).is_some_and(|range| range.contains(slot.port))
}

/// Whether `frontend` offers a `protocol` slot that is not in `used`.
fn has_free_slot(
    case: &Case,
    frontend: &Frontend,
    protocol: Protocol,
    used: &HashSet<&PortSlot>,
) -> bool {
    let Some(range) = offered_range(case, frontend) else {
        return false;
    };
    (range.min..=range.max).any(|port| {
        offered_ips(frontend).into_iter().any(|public_ip| {
            !used.contains(&PortSlot {
                frontend_id: frontend.id.clone(),
                public_ip,
                port,
                protocol,
            })
        })
    })
}

fn check_invariants(case: &Case, plan: &AllocationPlan) {
    let placed: Vec<&Allocation> = plan.keep.iter().chain(&plan.assign).collect();

    // No slot is ever double-booked: among what is kept and assigned, and against what others
    // hold or what is still being released.
    let mut seen = HashSet::new();
    for allocation in &placed {
        assert!(
            seen.insert(&allocation.slot),
            "double-booked: {:?}",
            allocation.slot
        );
        assert_eq!(allocation.slot.protocol, allocation.key.protocol);
    }
    let existing_slots: HashSet<&PortSlot> = case.existing.iter().map(|a| &a.slot).collect();
    for allocation in &plan.assign {
        assert!(
            !case.occupied.contains(&allocation.slot),
            "took an occupied slot"
        );
        assert!(
            !existing_slots.contains(&allocation.slot),
            "reused an existing slot"
        );
    }
    for allocation in &plan.keep {
        assert!(
            !case.occupied.contains(&allocation.slot),
            "kept an occupied slot"
        );
    }

    // Every wanted Pod port is placed or exhausted, once; nothing unwanted is placed.
    let wanted: BTreeSet<&AllocationKey> = case.wanted.iter().collect();
    let mut outcomes: Vec<&AllocationKey> = placed.iter().map(|a| &a.key).collect();
    outcomes.extend(&plan.exhausted);
    outcomes.sort();
    assert_eq!(outcomes, wanted.iter().copied().collect::<Vec<_>>());

    // Every existing allocation is kept or released, once.
    assert_eq!(plan.keep.len() + plan.release.len(), case.existing.len());
    for allocation in &plan.keep {
        assert!(case.existing.contains(allocation));
    }

    // New slots lie where the frontend offers them, and within its capacity.
    let mut frontends_seen = HashSet::new();
    for frontend in case
        .frontends
        .iter()
        .filter(|f| frontends_seen.insert(&f.id))
    {
        let assigned_here: Vec<_> = plan
            .assign
            .iter()
            .filter(|a| a.slot.frontend_id == frontend.id)
            .collect();
        for allocation in &assigned_here {
            assert!(
                offers(case, frontend, &allocation.slot),
                "outside the offer: {:?}",
                allocation.slot
            );
        }
        // Distinct slots that exist or will, on any public IP the frontend offers.
        let valid_ip = |slot: &PortSlot| {
            slot.frontend_id == frontend.id
                && (frontend.public_ips.is_empty() && slot.public_ip.is_none()
                    || slot
                        .public_ip
                        .as_ref()
                        .is_some_and(|ip| frontend.public_ips.contains(ip)))
        };
        let used: HashSet<&PortSlot> = case
            .occupied
            .iter()
            .chain(case.existing.iter().map(|a| &a.slot))
            .chain(plan.assign.iter().map(|a| &a.slot))
            .filter(|slot| valid_ip(slot))
            .collect();
        if !assigned_here.is_empty() {
            assert!(
                used.len() <= frontend.capacity as usize,
                "{} holds {} slots, capacity {}",
                frontend.id,
                used.len(),
                frontend.capacity
            );
        }

        // Exhausted means exhausted: this frontend is full, or has no free slot for it.
        for key in &plan.exhausted {
            let full = used.len() >= frontend.capacity as usize;
            let free = has_free_slot(case, frontend, key.protocol, &used);
            assert!(
                full || !free,
                "{key:?} exhausted but {} has room",
                frontend.id
            );
        }
    }
}

#[test]
fn no_slot_is_ever_double_booked_whatever_the_input() {
    for seed in 0..2000 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut case = random_case(&mut rng);
        let first = case.plan();
        check_invariants(&case, &first);

        // Deterministic: the order children and Pods are listed in does not matter.
        let mut shuffled = Case {
            frontends: case.frontends.clone(),
            port_range: case.port_range,
            existing: case.existing.clone(),
            occupied: case.occupied.clone(),
            wanted: case.wanted.clone(),
        };
        shuffled.existing.shuffle(&mut rng);
        shuffled.occupied.shuffle(&mut rng);
        shuffled.wanted.shuffle(&mut rng);
        assert_eq!(shuffled.plan(), first, "seed {seed}: order-dependent");

        // Stable: once carried out, the next plan keeps everything it placed.
        let released_any = !first.release.is_empty();
        case.apply(&first);
        let second = case.plan();
        check_invariants(&case, &second);
        assert!(
            second.release.is_empty(),
            "seed {seed}: {:?}",
            second.release
        );
        assert_eq!(second.keep.len(), first.keep.len() + first.assign.len());
        if !released_any {
            assert!(second.assign.is_empty(), "seed {seed}");
            assert_eq!(second.exhausted, first.exhausted, "seed {seed}");
        }
    }
}

fn pool_key(pod: &str, protocol: Protocol, target_port: u16, pool: &str) -> AllocationKey {
    AllocationKey::in_pool(pod, protocol, target_port, pool)
}

fn plan_pools(
    frontends: &[Frontend],
    pools: &[PoolOffer<'_>],
    existing: &[Allocation],
    wanted: &[AllocationKey],
    same_port: &[Vec<AllocationKey>],
) -> AllocationPlan {
    plan(&AllocationInput {
        frontends,
        port_range: None,
        existing,
        occupied: &[],
        wanted,
        pools,
        same_port,
    })
}

#[test]
fn pool_policies_order_the_frontends() {
    let frontends = vec![clb("lb-a", 10), clb("lb-b", 10), clb("lb-c", 10)];
    let ids: Vec<String> = ["lb-a", "lb-b", "lb-c"].map(String::from).to_vec();
    let offer = |policy| PoolOffer {
        name: "pool",
        frontend_ids: &ids,
        port_range: range(30000, 30100),
        policy,
        closed: &[],
    };
    let wanted: Vec<AllocationKey> = (0..3)
        .map(|p| pool_key(&format!("gs-{p}"), Tcp, 7000, "pool"))
        .collect();
    let lbs = |plan: &AllocationPlan| -> Vec<String> {
        plan.assign
            .iter()
            .map(|a| a.slot.frontend_id.clone())
            .collect()
    };
    // InOrder fills the first before the next; Uniform spreads.
    let in_order = plan_pools(&frontends, &[offer(LbPolicy::InOrder)], &[], &wanted, &[]);
    assert_eq!(lbs(&in_order), ["lb-a", "lb-a", "lb-a"]);
    assert_eq!(
        in_order
            .assign
            .iter()
            .map(|a| a.slot.port)
            .collect::<Vec<_>>(),
        [30000, 30001, 30002]
    );
    let uniform = plan_pools(&frontends, &[offer(LbPolicy::Uniform)], &[], &wanted, &[]);
    assert_eq!(lbs(&uniform), ["lb-a", "lb-b", "lb-c"]);
    // Random: an order per Pod, the same every time.
    let random = plan_pools(&frontends, &[offer(LbPolicy::Random)], &[], &wanted, &[]);
    let again = plan_pools(&frontends, &[offer(LbPolicy::Random)], &[], &wanted, &[]);
    assert_eq!(random, again);
}

#[test]
fn a_blacklisted_frontend_keeps_its_bindings_and_takes_no_new_ones() {
    let frontends = vec![clb("lb-a", 10), clb("lb-b", 10)];
    let ids: Vec<String> = ["lb-a", "lb-b"].map(String::from).to_vec();
    let closed = vec!["lb-a".to_string()];
    let pools = [PoolOffer {
        name: "pool",
        frontend_ids: &ids,
        port_range: range(30000, 30100),
        policy: LbPolicy::InOrder,
        closed: &closed,
    }];
    let old = pool_key("gs-0", Tcp, 7000, "pool");
    let new = pool_key("gs-1", Tcp, 7000, "pool");
    let existing = [allocation(old.clone(), slot("lb-a", 30000, Tcp))];
    let plan = plan_pools(&frontends, &pools, &existing, &[old, new], &[]);
    assert_eq!(plan.keep.len(), 1, "{plan:?}");
    assert_eq!(plan.assign[0].slot.frontend_id, "lb-b");
}

#[test]
fn a_frontend_taken_out_of_a_pool_moves_its_slots() {
    let frontends = vec![clb("lb-a", 10), clb("lb-b", 10)];
    let only_b = vec!["lb-b".to_string()];
    let pools = [PoolOffer {
        name: "pool",
        frontend_ids: &only_b,
        port_range: range(30000, 30100),
        policy: LbPolicy::InOrder,
        closed: &[],
    }];
    let key = pool_key("gs-0", Tcp, 7000, "pool");
    let existing = [allocation(key.clone(), slot("lb-a", 30000, Tcp))];
    let plan = plan_pools(
        &frontends,
        &pools,
        &existing,
        std::slice::from_ref(&key),
        &[],
    );
    assert_eq!(plan.release[0].reason, ReleaseReason::FrontendGone);
    assert_eq!(plan.assign[0].slot, slot("lb-b", 30000, Tcp));
}

#[test]
fn tcpudp_gets_one_port_number_on_one_frontend_or_nothing() {
    let frontends = vec![clb("lb-a", 10), clb("lb-b", 10)];
    let ids: Vec<String> = ["lb-a", "lb-b"].map(String::from).to_vec();
    let pools = [PoolOffer {
        name: "pool",
        frontend_ids: &ids,
        port_range: range(30000, 30002),
        policy: LbPolicy::InOrder,
        closed: &[],
    }];
    let tcp = pool_key("gs-0", Tcp, 7000, "pool");
    let udp = pool_key("gs-0", Udp, 7000, "pool");
    // lb-a's 30000 is taken for UDP only, lb-a's 30001 for TCP only: the pair lands on 30002.
    let occupied = [slot("lb-a", 30000, Udp), slot("lb-a", 30001, Tcp)];
    let group = vec![tcp.clone(), udp.clone()];
    let plan = plan(&AllocationInput {
        frontends: &frontends,
        port_range: None,
        existing: &[],
        occupied: &occupied,
        wanted: &[tcp.clone(), udp.clone()],
        pools: &pools,
        same_port: std::slice::from_ref(&group),
    });
    let slots: Vec<&PortSlot> = plan.assign.iter().map(|a| &a.slot).collect();
    assert_eq!(
        slots,
        [&slot("lb-a", 30002, Tcp), &slot("lb-a", 30002, Udp)]
    );

    // With room for one slot only on each frontend, the pair does not fit anywhere.
    let tight = vec![clb("lb-a", 1), clb("lb-b", 1)];
    let plan = plan_pools(
        &tight,
        &pools,
        &[],
        &[tcp.clone(), udp.clone()],
        std::slice::from_ref(&group),
    );
    assert!(plan.assign.is_empty(), "{plan:?}");
    assert_eq!(plan.exhausted, [tcp, udp]);
}

#[test]
fn the_same_port_across_pools_is_the_lowest_every_pool_can_give() {
    let frontends = vec![clb("lb-ctcc", 10), clb("lb-cmcc", 10)];
    let ctcc = vec!["lb-ctcc".to_string()];
    let cmcc = vec!["lb-cmcc".to_string()];
    let pools = [
        PoolOffer {
            name: "pool-ctcc",
            frontend_ids: &ctcc,
            port_range: range(30000, 30100),
            policy: LbPolicy::InOrder,
            closed: &[],
        },
        PoolOffer {
            name: "pool-cmcc",
            frontend_ids: &cmcc,
            port_range: range(30000, 30100),
            policy: LbPolicy::InOrder,
            closed: &[],
        },
    ];
    let keys = vec![
        pool_key("gs-0", Tcp, 7000, "pool-ctcc"),
        pool_key("gs-0", Tcp, 7000, "pool-cmcc"),
    ];
    let occupied = [slot("lb-ctcc", 30000, Tcp), slot("lb-cmcc", 30001, Tcp)];
    let plan = plan(&AllocationInput {
        frontends: &frontends,
        port_range: None,
        existing: &[],
        occupied: &occupied,
        wanted: &keys,
        pools: &pools,
        same_port: std::slice::from_ref(&keys),
    });
    let ports: Vec<u16> = plan.assign.iter().map(|a| a.slot.port).collect();
    assert_eq!(ports, [30002, 30002], "{plan:?}");

    // A member that already holds a slot pins the port for the rest.
    let existing = [allocation(keys[0].clone(), slot("lb-ctcc", 30005, Tcp))];
    let plan = plan_pools(
        &frontends,
        &pools,
        &existing,
        &keys,
        std::slice::from_ref(&keys),
    );
    assert_eq!(plan.assign[0].slot, slot("lb-cmcc", 30005, Tcp));
}

/// The random invariants, with pools, policies, blacklists and same-port groups.
#[test]
fn pools_and_groups_never_double_book_and_keep_groups_together() {
    for seed in 0..1000 {
        let mut rng = StdRng::seed_from_u64(seed);
        let frontends: Vec<Frontend> = (0..rng.random_range(1..=4))
            .map(|f| clb(&format!("lb-{f}"), rng.random_range(0..=8)))
            .collect();
        let ids: Vec<Vec<String>> = (0..2)
            .map(|_| {
                frontends
                    .iter()
                    .filter(|_| rng.random_bool(0.7))
                    .map(|f| f.id.clone())
                    .collect()
            })
            .collect();
        let closed: Vec<Vec<String>> = ids
            .iter()
            .map(|ids| {
                ids.iter()
                    .filter(|_| rng.random_bool(0.2))
                    .cloned()
                    .collect()
            })
            .collect();
        let policies = [LbPolicy::Uniform, LbPolicy::InOrder, LbPolicy::Random];
        let names = ["p0", "p1"];
        let pools: Vec<PoolOffer<'_>> = (0..2)
            .map(|p| {
                let min = rng.random_range(100..=103);
                PoolOffer {
                    name: names[p],
                    frontend_ids: &ids[p],
                    port_range: range(min, min + rng.random_range(0..=5)),
                    policy: policies[rng.random_range(0..3)],
                    closed: &closed[p],
                }
            })
            .collect();
        let mut wanted = Vec::new();
        let mut groups = Vec::new();
        for pod in 0..rng.random_range(0..=5) {
            let pod = format!("gs-{pod}");
            let both_pools = rng.random_bool(0.4);
            let tcpudp = rng.random_bool(0.5);
            let mut group = Vec::new();
            for pool in if both_pools { &names[..] } else { &names[..1] } {
                for protocol in if tcpudp {
                    &PROTOCOLS[..]
                } else {
                    &PROTOCOLS[..1]
                } {
                    group.push(pool_key(&pod, *protocol, 7000, pool));
                }
            }
            wanted.extend(group.iter().cloned());
            if group.len() > 1 {
                groups.push(group);
            }
        }
        let first = plan_pools(&frontends, &pools, &[], &wanted, &groups);
        let mut seen = HashSet::new();
        for a in &first.assign {
            assert!(
                seen.insert(&a.slot),
                "seed {seed}: double-booked {:?}",
                a.slot
            );
            let pool = pools.iter().find(|p| p.name == a.key.pool).unwrap();
            assert!(
                pool.frontend_ids.contains(&a.slot.frontend_id),
                "seed {seed}"
            );
            assert!(
                !pool.closed.contains(&a.slot.frontend_id),
                "seed {seed}: closed"
            );
            assert!(
                pool.port_range.unwrap().contains(a.slot.port),
                "seed {seed}"
            );
        }
        for frontend in &frontends {
            let here = first
                .assign
                .iter()
                .filter(|a| a.slot.frontend_id == frontend.id)
                .count();
            assert!(
                here as u32 <= frontend.capacity,
                "seed {seed}: over capacity"
            );
        }
        for group in &groups {
            let placed: Vec<&Allocation> = first
                .assign
                .iter()
                .filter(|a| group.contains(&a.key))
                .collect();
            assert!(
                placed.is_empty() || placed.len() == group.len(),
                "seed {seed}: a group split: {placed:?}"
            );
            if let Some(first_slot) = placed.first() {
                assert!(
                    placed.iter().all(|a| a.slot.port == first_slot.slot.port),
                    "seed {seed}: one port number"
                );
                for a in &placed {
                    for b in &placed {
                        if a.key.pool == b.key.pool {
                            assert_eq!(
                                a.slot.frontend_id, b.slot.frontend_id,
                                "seed {seed}: one address per pool"
                            );
                        }
                    }
                }
            }
        }
        let all: usize = first.assign.len() + first.exhausted.len();
        assert_eq!(
            all,
            wanted.len(),
            "seed {seed}: every key placed or exhausted"
        );
        // Stable once carried out.
        let existing: Vec<Allocation> = first.assign.clone();
        let second = plan_pools(&frontends, &pools, &existing, &wanted, &groups);
        assert!(
            second.release.is_empty(),
            "seed {seed}: {:?}",
            second.release
        );
        assert_eq!(second.keep.len(), first.assign.len(), "seed {seed}");
    }
}
