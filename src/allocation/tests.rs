use super::*;
use Protocol::{Tcp, Udp};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};

fn clb(id: &str, capacity: u32) -> Frontend {
    Frontend {
        id: id.into(),
        public_ips: vec![],
        capacity,
        port_range: None,
    }
}

fn gateway(id: &str, ips: &[&str], capacity: u32, min: u16, max: u16) -> Frontend {
    Frontend {
        id: id.into(),
        public_ips: ips.iter().map(|ip| ip.to_string()).collect(),
        capacity,
        port_range: Some(PortRange { min, max }),
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
