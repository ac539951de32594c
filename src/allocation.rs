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

/// What an allocation belongs to: one port of one Pod, by the Pod's name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AllocationKey {
    pub pod_name: String,
    pub protocol: Protocol,
    pub target_port: u16,
}

impl AllocationKey {
    pub fn new(pod_name: impl Into<String>, protocol: Protocol, target_port: u16) -> Self {
        Self {
            pod_name: pod_name.into(),
            protocol,
            target_port,
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
    /// Its frontend (or public IP) is no longer offered: removed from the resource or the
    /// config, or gone from the cloud.
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

/// Everything [`plan`] needs.
#[derive(Clone, Copy, Debug)]
pub struct AllocationInput<'a> {
    /// Where slots may be; from the provider, in the user's order (the tie-breaker).
    pub frontends: &'a [Frontend],
    /// The resource's `minPort`-`maxPort`; intersected with each frontend's own range. Neither
    /// given: 1-65535.
    pub port_range: Option<PortRange>,
    /// This resource's allocations, read from its children.
    pub existing: &'a [Allocation],
    /// Slots that other resources' children (or hand-made listeners) hold on these frontends.
    pub occupied: &'a [PortSlot],
    /// The Pod ports that should have a slot.
    pub wanted: &'a [AllocationKey],
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
    let mut kept_slots: HashSet<SlotIndex> = HashSet::new();
    let mut kept_keys: HashSet<&AllocationKey> = HashSet::new();
    for allocation in existing {
        let index = state.index_of(&allocation.slot);
        let reason = if !wanted.contains(&allocation.key) {
            Some(ReleaseReason::NotWanted)
        } else if kept_keys.contains(&allocation.key) {
            Some(ReleaseReason::Duplicate)
        } else if allocation.slot.protocol != allocation.key.protocol {
            Some(ReleaseReason::ProtocolMismatch)
        } else if let Some(index) = index {
            if !state.in_range(index) {
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
        match reason {
            None => {
                kept_slots.extend(index);
                kept_keys.insert(&allocation.key);
                state.remember_pod_slot(&allocation.key, index.expect("kept slots are offered"));
                plan.keep.push(allocation.clone());
            }
            Some(reason) => plan.release.push(Release {
                key: allocation.key.clone(),
                slot: allocation.slot.clone(),
                reason,
            }),
        }
    }

    for key in wanted.into_iter().filter(|key| !kept_keys.contains(key)) {
        match state.place(key) {
            Some(index) => {
                state.take(index);
                state.remember_pod_slot(key, index);
                plan.assign.push(Allocation {
                    key: key.clone(),
                    slot: state.slot(index),
                });
            }
            None => plan.exhausted.push(key.clone()),
        }
    }

    plan.keep.sort_by(|a, b| a.key.cmp(&b.key));
    plan.release
        .sort_by(|a, b| a.key.cmp(&b.key).then_with(|| a.slot.cmp(&b.slot)));
    plan
}

/// The search state of one plan.
struct State<'a> {
    frontends: Vec<OfferedFrontend<'a>>,
    by_id: HashMap<&'a str, usize>,
    taken: HashSet<SlotIndex>,
    /// Per (frontend, public IP, protocol): no port below it is free. Ports are only ever taken
    /// during a plan, so it only moves up, and finding the lowest free port stays linear overall.
    cursors: HashMap<(usize, usize, Protocol), u32>,
    /// Slots each Pod holds so far, to keep its ports together.
    pod_slots: BTreeMap<&'a str, BTreeSet<(usize, usize, u16)>>,
}

struct OfferedFrontend<'a> {
    frontend: &'a Frontend,
    /// `[None]` for a frontend with one implicit address; its public IPs otherwise.
    public_ips: Vec<Option<&'a str>>,
    /// Where slots may be on it; `None` when its range and the resource's do not overlap.
    range: Option<PortRange>,
    /// Distinct slots on it that exist or are planned.
    used: u32,
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
            let range = frontend
                .port_range
                .unwrap_or(ALL_PORTS)
                .intersect(&input.port_range.unwrap_or(ALL_PORTS))
                .and_then(|range| range.intersect(&ALL_PORTS));
            frontends.push(OfferedFrontend {
                frontend,
                public_ips,
                range,
                used: 0,
            });
        }
        Self {
            frontends,
            by_id,
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

    fn in_range(&self, (frontend, _, port, _): SlotIndex) -> bool {
        self.frontends[frontend]
            .range
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

    fn has_capacity(&self, frontend: usize) -> bool {
        let offered = &self.frontends[frontend];
        offered.used < offered.frontend.capacity
    }

    fn remember_pod_slot(&mut self, key: &'a AllocationKey, (frontend, ip, port, _): SlotIndex) {
        self.pod_slots
            .entry(key.pod_name.as_str())
            .or_default()
            .insert((frontend, ip, port));
    }

    /// The slot for a new allocation of `key`, if there is one.
    fn place(&mut self, key: &AllocationKey) -> Option<SlotIndex> {
        let protocol = key.protocol;
        // Next to the Pod's other ports: same frontend and address, the same port number if it
        // is free for this protocol, else the lowest free port there.
        let pod_slots: Vec<(usize, usize, u16)> = self
            .pod_slots
            .get(key.pod_name.as_str())
            .map(|slots| slots.iter().copied().collect())
            .unwrap_or_default();
        for &(frontend, ip, port) in &pod_slots {
            let index = (frontend, ip, port, protocol);
            if self.has_capacity(frontend) && self.in_range(index) && !self.is_taken(index) {
                return Some(index);
            }
        }
        for &(frontend, ip, _) in &pod_slots {
            if self.has_capacity(frontend)
                && let Some(port) = self.lowest_free_port(frontend, ip, protocol)
            {
                return Some((frontend, ip, port, protocol));
            }
        }

        // Otherwise spread: the frontend with the most room left, the user's order breaking
        // ties; on it the lowest free port, then the first public IP.
        let mut order: Vec<usize> = (0..self.frontends.len())
            .filter(|&frontend| self.has_capacity(frontend))
            .collect();
        order.sort_by_key(|&frontend| {
            let offered = &self.frontends[frontend];
            (
                std::cmp::Reverse(offered.frontend.capacity.saturating_sub(offered.used)),
                frontend,
            )
        });
        for frontend in order {
            let best = (0..self.frontends[frontend].public_ips.len())
                .filter_map(|ip| {
                    self.lowest_free_port(frontend, ip, protocol)
                        .map(|port| (port, ip))
                })
                .min();
            if let Some((port, ip)) = best {
                return Some((frontend, ip, port, protocol));
            }
        }
        None
    }

    fn lowest_free_port(&mut self, frontend: usize, ip: usize, protocol: Protocol) -> Option<u16> {
        let range = self.frontends[frontend].range?;
        let cursor = self
            .cursors
            .entry((frontend, ip, protocol))
            .or_insert(u32::from(range.min));
        while *cursor <= u32::from(range.max) {
            let port = u16::try_from(*cursor).expect("the range is within u16");
            if !self.taken.contains(&(frontend, ip, port, protocol)) {
                return Some(port);
            }
            *cursor += 1;
        }
        None
    }
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
