//! Port allocation for [`PortPerSlot`](dac_provider_api::AllocationMode::PortPerSlot)
//! providers: which (frontend, public IP, port, protocol) slot each Pod port gets.
//!
//! The allocator keeps no state. Its input is what the API server holds (the child objects
//! record every allocation), so a restarted controller plans exactly what the last one did, and
//! planning twice in a row changes nothing. Rules:
//!
//! - Allocations are keyed by Pod *name*, protocol and targetPort, so a StatefulSet Pod
//!   recreated under the same name keeps its slot (pass names that are expected back, e.g.
//!   StatefulSet ordinals below `replicas`, as wanted even while their Pod is missing).
//! - Every existing allocation that is still wanted and still valid is kept, even when the
//!   frontend's capacity has since shrunk: a working address is never taken away to make room.
//! - New allocations are deterministic: a Pod's other ports pull it to the same frontend and
//!   address (and the same port number for the other protocol, so TCP and UDP can share a
//!   number); otherwise the frontend with the most remaining capacity, then the lowest free
//!   port, then the first public IP.
//! - No slot is ever given twice, nor one held by another resource (`occupied`), nor one that
//!   is still being released; a frontend never gets more new slots than its capacity allows.
//! - A Pod port without a free slot is reported as exhausted on its own: the others keep theirs.
use dac_provider_api::{Frontend, PortRange, Protocol};
use std::{
    cmp::Ordering,
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
};

/// What an allocation belongs to: one port of one Pod, by the Pod's name, and the port pool it
/// draws from (empty for a `DedicatedCLBService`, whose slots come from its own frontends).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AllocationKey {
    pub pod_name: String,
    pub protocol: Protocol,
    pub target_port: u16,
    pub pool: String,
}

impl AllocationKey {
    pub fn new(pod_name: impl Into<String>, protocol: Protocol, target_port: u16) -> Self {
        Self::in_pool(pod_name, protocol, target_port, "")
    }

    /// A Pod port whose slot comes from port pool `pool`.
    pub fn in_pool(
        pod_name: impl Into<String>,
        protocol: Protocol,
        target_port: u16,
        pool: impl Into<String>,
    ) -> Self {
        Self {
            pod_name: pod_name.into(),
            protocol,
            target_port,
            pool: pool.into(),
        }
    }
}

/// Pod names compare naturally (`gs-2` before `gs-10`), so a StatefulSet's Pods get ports in
/// ordinal order.
impl Ord for AllocationKey {
    fn cmp(&self, other: &Self) -> Ordering {
        natural_cmp(&self.pod_name, &other.pod_name)
            .then(self.protocol.cmp(&other.protocol))
            .then(self.target_port.cmp(&other.target_port))
            .then(self.pool.cmp(&other.pool))
    }
}

impl PartialOrd for AllocationKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A public slot: what a `DedicatedCLBListener` child's spec records.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSlot {
    /// CLB instance id or NAT gateway id.
    pub frontend_id: String,
    /// natgw: the gateway EIP; `None` on a frontend with one implicit address (a CLB).
    pub public_ip: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

/// A Pod port and its slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub key: AllocationKey,
    pub slot: PortSlot,
}

/// Why an existing allocation is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseReason {
    /// Its Pod or port is no longer selected.
    NotWanted,
    /// Its frontend (or public IP) is no longer offered: removed from the resource, the pool or
    /// the config, or gone from the cloud.
    FrontendGone,
    /// Its port is outside the port range now.
    OutOfRange,
    /// Its slot's protocol is not its Pod port's.
    ProtocolMismatch,
    /// The same Pod port has another allocation, which is kept.
    Duplicate,
    /// Its slot is held by another resource, or by another Pod port of this one. The cloud
    /// resource belongs to the holder: drop the child without releasing it in the cloud.
    Conflict,
}

/// An existing allocation to drop, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub key: AllocationKey,
    pub slot: PortSlot,
    pub reason: ReleaseReason,
}

/// In which order a pool's frontends take new slots (a port pool's `lbPolicy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LbPolicy {
    /// The frontend with the most room left first (a `DedicatedCLBService`'s frontends).
    #[default]
    MostRoom,
    /// The frontend with the fewest slots first: Pods spread over as many addresses as possible.
    Uniform,
    /// The pool's order: the first frontend fills before the next is used.
    InOrder,
    /// An order of its own for every Pod (stable: the same Pod always gets the same order).
    Random,
}

/// Where the Pod ports of one port pool may go.
#[derive(Clone, Copy, Debug)]
pub struct PoolOffer<'a> {
    pub name: &'a str,
    /// The pool's frontends, in the pool's order.
    pub frontend_ids: &'a [String],
    /// Intersected with each frontend's own range.
    pub port_range: Option<PortRange>,
    pub policy: LbPolicy,
    /// Frontends that keep what they hold but take nothing new (a pool's `lbBlacklist`).
    pub closed: &'a [String],
}

/// Everything [`plan`] needs.
#[derive(Clone, Copy, Debug)]
pub struct AllocationInput<'a> {
    /// Where slots may be; from the provider, in the user's order (the tie-breaker).
    pub frontends: &'a [Frontend],
    /// The resource's `minPort`-`maxPort` for keys without a pool; intersected with each
    /// frontend's own range. Neither given: 1-65535.
    pub port_range: Option<PortRange>,
    /// This resource's allocations, read from its children.
    pub existing: &'a [Allocation],
    /// Slots that other resources' children (or hand-made listeners) hold on these frontends.
    pub occupied: &'a [PortSlot],
    /// The Pod ports that should have a slot.
    pub wanted: &'a [AllocationKey],
    /// The pools keys with a `pool` draw from; a key whose pool is not here gets no slot.
    pub pools: &'a [PoolOffer<'a>],
    /// Keys that must share one port number (a port pool's `TCPUDP`, `useSamePortAcrossPools`);
    /// keys of one group and one pool share the frontend too, so that they have one address.
    /// A group is placed whole or not at all.
    pub same_port: &'a [Vec<AllocationKey>],
}

/// What to do; every list sorted by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocationPlan {
    /// Existing allocations that stay as they are.
    pub keep: Vec<Allocation>,
    /// New allocations: create a child for each.
    pub assign: Vec<Allocation>,
    /// Wanted Pod ports that got no slot: `PortsExhausted`.
    pub exhausted: Vec<AllocationKey>,
    /// Existing allocations to drop.
    pub release: Vec<Release>,
}

/// A slot on an offered frontend, by index: cheap to hash while searching for free ports.
type SlotIndex = (usize, usize, u16, Protocol);

/// The members of a same-port group in one pool: their protocols, and the (frontend, public
/// IP) a member that already holds a slot pins them to.
type GroupUnit = (Vec<Protocol>, Option<(usize, usize)>);

/// Plans allocations; see the module docs for the rules.
pub fn plan(input: &AllocationInput<'_>) -> AllocationPlan {
    let mut state = State::new(input);
    let mut plan = AllocationPlan::default();
    let wanted: BTreeSet<&AllocationKey> = input.wanted.iter().collect();

    // Occupied slots first, so that an existing allocation on the same slot is the conflict.
    for slot in input.occupied {
        if let Some(index) = state.index_of(slot) {
            state.take(index);
        }
    }

    // Existing allocations in a fixed order, so that the same input always keeps the same one
    // of two that collide.
    let mut existing: Vec<&Allocation> = input.existing.iter().collect();
    existing.sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.slot.cmp(&b.slot)));
    let mut kept: HashMap<&AllocationKey, SlotIndex> = HashMap::new();
    for allocation in existing {
        let index = state.index_of(&allocation.slot);
        let reason = if !wanted.contains(&allocation.key) {
            Some(ReleaseReason::NotWanted)
        } else if kept.contains_key(&allocation.key) {
            Some(ReleaseReason::Duplicate)
        } else if allocation.slot.protocol != allocation.key.protocol {
            Some(ReleaseReason::ProtocolMismatch)
        } else if let Some(index) = index.filter(|i| state.offers(&allocation.key, i.0)) {
            if !state.in_range(&allocation.key, index) {
                Some(ReleaseReason::OutOfRange)
            } else if state.is_taken(index) {
                // Held by `occupied` or by an allocation kept just before.
                Some(ReleaseReason::Conflict)
            } else {
                None
            }
        } else {
            Some(ReleaseReason::FrontendGone)
        };
        // Kept or not, the slot exists in the cloud until it is released: never hand it out
        // again in this plan, and count it against its frontend's capacity.
        if let Some(index) = index {
            state.take(index);
        }
        match (reason, index) {
            (None, Some(index)) => {
                kept.insert(&allocation.key, index);
                state.remember_pod_slot(&allocation.key, index);
                plan.keep.push(allocation.clone());
            }
            (reason, _) => plan.release.push(Release {
                key: allocation.key.clone(),
                slot: allocation.slot.clone(),
                reason: reason.unwrap_or(ReleaseReason::FrontendGone),
            }),
        }
    }

    // Groups that must share a port number, by member.
    let mut group_of: HashMap<&AllocationKey, usize> = HashMap::new();
    for (index, group) in input.same_port.iter().enumerate() {
        for key in group.iter().filter(|key| wanted.contains(key)) {
            group_of.entry(key).or_insert(index);
        }
    }
    let mut placed_groups: HashSet<usize> = HashSet::new();
    for key in wanted.iter().copied().filter(|key| !kept.contains_key(key)) {
        match group_of.get(key) {
            None => match state.place(key) {
                Some(index) => {
                    state.take(index);
                    state.remember_pod_slot(key, index);
                    plan.assign.push(Allocation {
                        key: key.clone(),
                        slot: state.slot(index),
                    });
                }
                None => plan.exhausted.push(key.clone()),
            },
            Some(&group) => {
                if !placed_groups.insert(group) {
                    continue;
                }
                let members: Vec<&AllocationKey> = input.same_port[group]
                    .iter()
                    .filter(|member| {
                        wanted.contains(member) && group_of.get(member) == Some(&group)
                    })
                    .collect();
                let missing: Vec<&AllocationKey> = members
                    .iter()
                    .copied()
                    .filter(|member| !kept.contains_key(member))
                    .collect();
                let holding: Vec<(&AllocationKey, SlotIndex)> = members
                    .iter()
                    .filter_map(|member| Some((*member, *kept.get(member)?)))
                    .collect();
                match state.place_group(&missing, &holding) {
                    Some(indexes) => {
                        for (member, index) in missing.iter().zip(indexes) {
                            state.take(index);
                            state.remember_pod_slot(member, index);
                            plan.assign.push(Allocation {
                                key: (*member).clone(),
                                slot: state.slot(index),
                            });
                        }
                    }
                    None => plan.exhausted.extend(missing.into_iter().cloned()),
                }
            }
        }
    }

    plan.keep.sort_by(|a, b| a.key.cmp(&b.key));
    plan.assign.sort_by(|a, b| a.key.cmp(&b.key));
    plan.exhausted.sort();
    plan.release
        .sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.slot.cmp(&b.slot)));
    plan
}

/// The search state of one plan.
struct State<'a> {
    frontends: Vec<OfferedFrontend<'a>>,
    by_id: HashMap<&'a str, usize>,
    /// By pool name; `""` is the resource's own frontends.
    offers: HashMap<&'a str, Offer>,
    taken: HashSet<SlotIndex>,
    /// Per (frontend, public IP, protocol, lowest port of the range): no port from that lowest
    /// port up to it is free. Ports are only ever taken during a plan, so it only moves up, and
    /// finding the lowest free port stays linear overall.
    cursors: HashMap<(usize, usize, Protocol, u16), u32>,
    /// Slots each Pod holds so far, to keep its ports together.
    pod_slots: BTreeMap<&'a str, BTreeSet<(usize, usize, u16)>>,
}

struct OfferedFrontend<'a> {
    frontend: &'a Frontend,
    /// `[None]` for a frontend with one implicit address; its public IPs otherwise.
    public_ips: Vec<Option<&'a str>>,
    /// Distinct slots on it that exist or are planned.
    used: u32,
}

/// Where the keys of one pool (or of the resource itself) may go.
struct Offer {
    /// Frontend indexes, in the pool's order.
    frontends: Vec<usize>,
    range: Option<PortRange>,
    policy: LbPolicy,
    /// Frontend indexes that take nothing new.
    closed: HashSet<usize>,
}

const ALL_PORTS: PortRange = PortRange { min: 1, max: 65535 };

impl<'a> State<'a> {
    fn new(input: &AllocationInput<'a>) -> Self {
        let mut frontends = Vec::new();
        let mut by_id = HashMap::new();
        for frontend in input.frontends {
            if by_id.contains_key(frontend.id.as_str()) {
                continue; // Listed twice: the first one counts.
            }
            by_id.insert(frontend.id.as_str(), frontends.len());
            let public_ips = if frontend.public_ips.is_empty() {
                vec![None]
            } else {
                frontend
                    .public_ips
                    .iter()
                    .map(|ip| Some(ip.as_str()))
                    .collect()
            };
            frontends.push(OfferedFrontend {
                frontend,
                public_ips,
                used: 0,
            });
        }
        let mut offers = HashMap::new();
        offers.insert(
            "",
            Offer {
                frontends: (0..frontends.len()).collect(),
                range: input.port_range,
                policy: LbPolicy::MostRoom,
                closed: HashSet::new(),
            },
        );
        for pool in input.pools {
            let indexes = |ids: &[String]| -> Vec<usize> {
                let mut seen = HashSet::new();
                ids.iter()
                    .filter_map(|id| by_id.get(id.as_str()).copied())
                    .filter(|index| seen.insert(*index))
                    .collect()
            };
            offers.entry(pool.name).or_insert(Offer {
                frontends: indexes(pool.frontend_ids),
                range: pool.port_range,
                policy: pool.policy,
                closed: indexes(pool.closed).into_iter().collect(),
            });
        }
        Self {
            frontends,
            by_id,
            offers,
            taken: HashSet::new(),
            cursors: HashMap::new(),
            pod_slots: BTreeMap::new(),
        }
    }

    /// Where `slot` is among the offered frontends and their public IPs, if it is.
    fn index_of(&self, slot: &PortSlot) -> Option<SlotIndex> {
        let frontend_index = *self.by_id.get(slot.frontend_id.as_str())?;
        let ip_index = self.frontends[frontend_index]
            .public_ips
            .iter()
            .position(|ip| *ip == slot.public_ip.as_deref())?;
        Some((frontend_index, ip_index, slot.port, slot.protocol))
    }

    fn slot(&self, (frontend, ip, port, protocol): SlotIndex) -> PortSlot {
        let offered = &self.frontends[frontend];
        PortSlot {
            frontend_id: offered.frontend.id.clone(),
            public_ip: offered.public_ips[ip].map(str::to_string),
            port,
            protocol,
        }
    }

    /// Whether `key`'s pool (or resource) offers this frontend at all.
    fn offers(&self, key: &AllocationKey, frontend: usize) -> bool {
        self.offers
            .get(key.pool.as_str())
            .is_some_and(|offer| offer.frontends.contains(&frontend))
    }

    /// The ports `frontend` offers to `pool`'s keys: both ranges; `None` when they do not meet.
    fn range(&self, pool: &str, frontend: usize) -> Option<PortRange> {
        let offer = self.offers.get(pool)?;
        self.frontends[frontend]
            .frontend
            .port_range
            .unwrap_or(ALL_PORTS)
            .intersect(&offer.range.unwrap_or(ALL_PORTS))
            .and_then(|range| range.intersect(&ALL_PORTS))
    }

    fn in_range(&self, key: &AllocationKey, (frontend, _, port, _): SlotIndex) -> bool {
        self.range(&key.pool, frontend)
            .is_some_and(|range| range.contains(port))
    }

    fn is_taken(&self, index: SlotIndex) -> bool {
        self.taken.contains(&index)
    }

    fn take(&mut self, index: SlotIndex) {
        if self.taken.insert(index) {
            self.frontends[index.0].used += 1;
        }
    }

    /// Room for `slots` more new slots.
    fn has_room(&self, frontend: usize, slots: u32) -> bool {
        let offered = &self.frontends[frontend];
        offered.used + slots <= offered.frontend.capacity
    }

    fn remember_pod_slot(&mut self, key: &'a AllocationKey, (frontend, ip, port, _): SlotIndex) {
        self.pod_slots
            .entry(key.pod_name.as_str())
            .or_default()
            .insert((frontend, ip, port));
    }

    /// The frontends `pod`'s keys of `pool` may get new slots on, best first.
    fn candidates(&self, pool: &str, pod: &str, slots: u32) -> Vec<usize> {
        let Some(offer) = self.offers.get(pool) else {
            return Vec::new();
        };
        let mut order: Vec<(usize, usize)> = offer
            .frontends
            .iter()
            .enumerate()
            .filter(|(_, f)| !offer.closed.contains(f) && self.has_room(**f, slots))
            .map(|(position, f)| (position, *f))
            .collect();
        let room = |f: usize| {
            let offered = &self.frontends[f];
            offered.frontend.capacity.saturating_sub(offered.used)
        };
        match offer.policy {
            LbPolicy::MostRoom => {
                order.sort_by_key(|&(position, f)| (std::cmp::Reverse(room(f)), position))
            }
            LbPolicy::Uniform => {
                order.sort_by_key(|&(position, f)| (self.frontends[f].used, position))
            }
            LbPolicy::InOrder => {}
            LbPolicy::Random => order.sort_by_key(|&(position, f)| {
                (fnv1a(pod, &self.frontends[f].frontend.id), position)
            }),
        }
        order.into_iter().map(|(_, f)| f).collect()
    }

    /// The slot for a new allocation of `key`, if there is one.
    fn place(&mut self, key: &AllocationKey) -> Option<SlotIndex> {
        let protocol = key.protocol;
        let candidates = self.candidates(&key.pool, &key.pod_name, 1);
        // Next to the Pod's other ports: same frontend and address, the same port number if it
        // is free for this protocol, else the lowest free port there.
        let pod_slots: Vec<(usize, usize, u16)> = self
            .pod_slots
            .get(key.pod_name.as_str())
            .map(|slots| slots.iter().copied().collect())
            .unwrap_or_default();
        for &(frontend, ip, port) in &pod_slots {
            let index = (frontend, ip, port, protocol);
            if candidates.contains(&frontend) && self.in_range(key, index) && !self.is_taken(index)
            {
                return Some(index);
            }
        }
        for &(frontend, ip, _) in &pod_slots {
            if candidates.contains(&frontend)
                && let Some(port) =
                    self.lowest_free_port(&key.pool, frontend, ip, &[protocol], None)
            {
                return Some((frontend, ip, port, protocol));
            }
        }

        // Otherwise by the policy; on a frontend the lowest free port, then the first IP.
        for frontend in candidates {
            let best = (0..self.frontends[frontend].public_ips.len())
                .filter_map(|ip| {
                    self.lowest_free_port(&key.pool, frontend, ip, &[protocol], None)
                        .map(|port| (port, ip))
                })
                .min();
            if let Some((port, ip)) = best {
                return Some((frontend, ip, port, protocol));
            }
        }
        None
    }

    /// Slots for `missing`, all on one port number, alongside the group's members that already
    /// hold slots (`holding`, which fix the port and, per pool, the frontend). Members of one
    /// pool share a frontend and address. `None` when the whole group does not fit.
    fn place_group(
        &mut self,
        missing: &[&AllocationKey],
        holding: &[(&AllocationKey, SlotIndex)],
    ) -> Option<Vec<SlotIndex>> {
        if missing.is_empty() {
            return Some(Vec::new());
        }
        // One unit per pool: its missing protocols, and where a held member pins it.
        let mut units: BTreeMap<&str, GroupUnit> = BTreeMap::new();
        for key in missing {
            units
                .entry(key.pool.as_str())
                .or_default()
                .0
                .push(key.protocol);
        }
        for (key, (frontend, ip, _, _)) in holding {
            if let Some(unit) = units.get_mut(key.pool.as_str()) {
                unit.1 = Some((*frontend, *ip));
            }
        }
        let pod = missing[0].pod_name.as_str();
        let pinned_port = holding.first().map(|(_, index)| index.2);
        if units.len() == 1 && pinned_port.is_none() {
            // One pool: its policy picks the frontend first, then the lowest port free there
            // for every protocol.
            let (pool, (protocols, _)) = units.into_iter().next()?;
            for frontend in self.candidates(pool, pod, protocols.len() as u32) {
                for ip in 0..self.frontends[frontend].public_ips.len() {
                    if let Some(port) =
                        self.lowest_free_port(pool, frontend, ip, &protocols, Some(1))
                    {
                        return Some(
                            missing
                                .iter()
                                .map(|key| (frontend, ip, port, key.protocol))
                                .collect(),
                        );
                    }
                }
            }
            return None;
        }
        // Several pools: the lowest port number every pool can give.
        let mut port = pinned_port.unwrap_or(1);
        loop {
            // Slots chosen for earlier units at this port are taken for the later ones (two
            // pools may share a frontend); undone unless the whole group fits.
            let mut tentative: Vec<SlotIndex> = Vec::new();
            let mut chosen: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            let mut next = port;
            for (pool, (protocols, pin)) in &units {
                let frontends = match pin {
                    Some((frontend, _)) => vec![*frontend],
                    None => self.candidates(pool, pod, protocols.len() as u32),
                };
                // The lowest port at or after `port` some frontend of the unit has free for
                // every protocol of the unit; the policy's order breaks ties.
                let places: Vec<(usize, usize)> = frontends
                    .iter()
                    .flat_map(|&frontend| {
                        let ips: Vec<usize> = match pin {
                            Some((_, ip)) => vec![*ip],
                            None => (0..self.frontends[frontend].public_ips.len()).collect(),
                        };
                        ips.into_iter().map(move |ip| (frontend, ip))
                    })
                    .collect();
                let mut best: Option<(u16, usize, usize, usize)> = None;
                for (order, (frontend, ip)) in places.into_iter().enumerate() {
                    if let Some(free) =
                        self.lowest_free_port(pool, frontend, ip, protocols, Some(port))
                    {
                        let candidate = (free, order, frontend, ip);
                        if best.is_none_or(|b| candidate < b) {
                            best = Some(candidate);
                        }
                    }
                }
                let Some((free, _, frontend, ip)) = best else {
                    self.untake(&tentative);
                    return None;
                };
                if free == port {
                    chosen.insert(pool, (frontend, ip));
                    for &protocol in protocols {
                        let index = (frontend, ip, port, protocol);
                        self.take(index);
                        tentative.push(index);
                    }
                } else {
                    next = next.max(free);
                }
            }
            self.untake(&tentative);
            if chosen.len() == units.len() {
                let indexes = missing
                    .iter()
                    .map(|key| {
                        let (frontend, ip) = chosen[key.pool.as_str()];
                        (frontend, ip, port, key.protocol)
                    })
                    .collect();
                return Some(indexes);
            }
            if pinned_port.is_some() || next == port {
                return None;
            }
            port = next;
        }
    }

    /// Gives back slots taken while trying a group that did not fit.
    fn untake(&mut self, indexes: &[SlotIndex]) {
        for index in indexes {
            if self.taken.remove(index) {
                self.frontends[index.0].used -= 1;
            }
        }
    }

    /// The lowest port of `pool`'s range on this frontend and address that is free for every
    /// one of `protocols`, from `from` on (`None`: from the bottom of the range).
    fn lowest_free_port(
        &mut self,
        pool: &str,
        frontend: usize,
        ip: usize,
        protocols: &[Protocol],
        from: Option<u16>,
    ) -> Option<u16> {
        let range = self.range(pool, frontend)?;
        let mut port = u32::from(from.unwrap_or(range.min).max(range.min));
        loop {
            let mut moved = false;
            for &protocol in protocols {
                let cursor = self
                    .cursors
                    .entry((frontend, ip, protocol, range.min))
                    .or_insert(u32::from(range.min));
                if port < *cursor {
                    port = *cursor;
                }
                while port <= u32::from(range.max)
                    && self.taken.contains(&(frontend, ip, port as u16, protocol))
                {
                    port += 1;
                    moved = true;
                }
                if from.is_none() && protocols.len() == 1 {
                    *cursor = port;
                }
            }
            if port > u32::from(range.max) {
                return None;
            }
            if !moved {
                return u16::try_from(port).ok();
            }
        }
    }
}

/// A stable hash of a Pod and a frontend, for the `Random` policy's per-Pod order (the std
/// hasher may change between releases, which would reshuffle).
fn fnv1a(pod: &str, frontend: &str) -> u64 {
    pod.bytes()
        .chain([0])
        .chain(frontend.bytes())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// Compares strings with runs of digits compared as numbers: `gs-2` < `gs-10`. Equal only for
/// equal strings (`a01` and `a1` fall back to plain order), so it is a total order.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> impl Iterator<Item = &str> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digits = first.is_ascii_digit();
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digits)
                .unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(end);
            rest = tail;
            Some(chunk)
        })
    }
    let mut left = chunks(a);
    let mut right = chunks(b);
    loop {
        match (left.next(), right.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let both_numbers = x.starts_with(|c: char| c.is_ascii_digit())
                    && y.starts_with(|c: char| c.is_ascii_digit());
                let order = if both_numbers {
                    let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                } else {
                    x.cmp(y)
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
