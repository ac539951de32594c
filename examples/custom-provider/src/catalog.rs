//! The configured frontends as the controller's allocator sees them.
//!
//! The allocator hands out ports from one contiguous range per frontend
//! ([`Frontend::port_range`]), so a frontend with a `portRange` is offered as it is, under its
//! own id, while a frontend with explicit `ports` is offered as one single-port frontend per
//! port, with the id `<id>:<port>`. That id depends on nothing but the port itself, so adding or
//! removing other ports never changes the slot (and so the address) of a bound Pod port.
use crate::config::StaticTableConfig;
use crate::reason;
use crate::table::PublicPort;
use dac_provider_api::{Frontend, PortRange, ProviderError, Slot};
use std::collections::HashMap;
use std::net::IpAddr;

/// Protocols a public port serves; each is a slot of its own.
const PROTOCOLS_PER_PORT: u32 = 2;

/// One frontend as offered to the allocator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// What slots record as their `frontend_id` (the child's `lbId`).
    pub id: String,
    /// The `id` in the config.
    pub config_id: String,
    pub public_ip: IpAddr,
    pub ports: PortRange,
}

impl Offer {
    /// Slots on it: every port with each protocol.
    pub fn slots(&self) -> u32 {
        (u32::from(self.ports.max) - u32::from(self.ports.min) + 1) * PROTOCOLS_PER_PORT
    }

    pub fn contains(&self, ip: IpAddr, port: u16) -> bool {
        ip == self.public_ip && self.ports.contains(port)
    }

    /// The frontend for the allocator, `taken` of its slots held by others.
    pub fn frontend(&self, taken: u32) -> Frontend {
        Frontend {
            id: self.id.clone(),
            public_ips: vec![self.public_ip.to_string()],
            capacity: self.slots().saturating_sub(taken),
            port_range: Some(self.ports),
            taken: Vec::new(),
            problem: None,
            tags: Default::default(),
            display: Default::default(),
        }
    }
}

/// Every offer, in the config's order (the allocator's tie-breaker).
#[derive(Clone, Debug)]
pub struct Catalog {
    offers: Vec<Offer>,
    by_id: HashMap<String, usize>,
}

impl Catalog {
    pub fn new(config: &StaticTableConfig) -> Self {
        let mut offers = Vec::new();
        for frontend in &config.frontends {
            let offer = |id: String, ports: PortRange| Offer {
                id,
                config_id: frontend.id.clone(),
                public_ip: frontend.public_ip,
                ports,
            };
            match frontend.port_range {
                Some(range) => offers.push(offer(
                    frontend.id.clone(),
                    PortRange {
                        min: range.min,
                        max: range.max,
                    },
                )),
                None => offers.extend(frontend.port_list().into_iter().map(|port| {
                    offer(
                        single_port_id(&frontend.id, port),
                        PortRange {
                            min: port,
                            max: port,
                        },
                    )
                })),
            }
        }
        let by_id = offers
            .iter()
            .enumerate()
            .map(|(index, offer)| (offer.id.clone(), index))
            .collect();
        Self { offers, by_id }
    }

    pub fn all(&self) -> &[Offer] {
        &self.offers
    }

    /// The offers a resource may use: all of them, or those named (by config id or offered id).
    pub fn narrowed(&self, frontend_ids: &[String]) -> Result<Vec<&Offer>, ProviderError> {
        if frontend_ids.is_empty() {
            return Ok(self.offers.iter().collect());
        }
        let mut chosen = Vec::new();
        for id in frontend_ids {
            let before = chosen.len();
            chosen.extend(
                self.offers
                    .iter()
                    .filter(|offer| &offer.id == id || &offer.config_id == id),
            );
            if chosen.len() == before {
                return Err(ProviderError::user_fixable(
                    reason::FRONTEND_NOT_FOUND,
                    format!("frontend {id:?} is not in providers.static-table.frontends"),
                ));
            }
        }
        Ok(chosen)
    }

    /// The table entry a slot stands for, if the config still offers it.
    pub fn place(&self, slot: &Slot) -> Result<PublicPort, ProviderError> {
        let Slot::Port {
            frontend_id,
            public_ip,
            port,
            protocol,
        } = slot
        else {
            return Err(ProviderError::permanent(
                "static-table hands out port slots; it was given a Pod-address slot",
            ));
        };
        let not_offered = |why: String| {
            ProviderError::user_fixable(
                reason::SLOT_NOT_IN_TABLE,
                format!("{frontend_id} port {port}/{protocol}: {why}"),
            )
        };
        let offer = self
            .by_id
            .get(frontend_id)
            .map(|&index| &self.offers[index])
            .ok_or_else(|| {
                not_offered("no such frontend in providers.static-table.frontends".into())
            })?;
        if !offer.ports.contains(*port) {
            return Err(not_offered(format!(
                "the frontend forwards ports {}-{} only",
                offer.ports.min, offer.ports.max
            )));
        }
        // The slot's IP is part of its identity (the orphan sweep compares it), so a slot
        // without one, or with an IP the frontend no longer has, is not ours to fill in.
        match public_ip.as_deref().map(str::parse::<IpAddr>) {
            Some(Ok(ip)) if ip == offer.public_ip => Ok(PublicPort {
                ip,
                port: *port,
                protocol: *protocol,
            }),
            Some(_) => Err(not_offered(format!(
                "the frontend's public IP is {}, not {}",
                offer.public_ip,
                public_ip.as_deref().unwrap_or_default()
            ))),
            None => Err(not_offered(format!(
                "publicIp is required (this frontend's is {})",
                offer.public_ip
            ))),
        }
    }
}

/// The offered id of port `port` of a frontend with explicit ports.
pub fn single_port_id(config_id: &str, port: u16) -> String {
    format!("{config_id}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dac_provider_api::Protocol;
    use serde_json::json;

    fn catalog() -> Catalog {
        let config = StaticTableConfig::from_section(&json!({
            "tableFile": "/t.json",
            "frontends": [
                {"id": "edge-a", "publicIp": "203.0.113.10", "portRange": {"min": 20000, "max": 20009}},
                {"id": "edge-b", "publicIp": "203.0.113.20", "ports": [7005, 7000]},
            ],
        }))
        .unwrap();
        Catalog::new(&config)
    }

    fn slot(frontend: &str, ip: Option<&str>, port: u16) -> Slot {
        Slot::Port {
            frontend_id: frontend.into(),
            public_ip: ip.map(str::to_string),
            port,
            protocol: Protocol::Udp,
        }
    }

    #[test]
    fn explicit_ports_are_offered_one_by_one() {
        let catalog = catalog();
        let frontends: Vec<Frontend> = catalog.all().iter().map(|o| o.frontend(0)).collect();
        assert_eq!(
            frontends,
            vec![
                Frontend {
                    id: "edge-a".into(),
                    public_ips: vec!["203.0.113.10".into()],
                    capacity: 20,
                    port_range: Some(PortRange {
                        min: 20000,
                        max: 20009
                    }),
                    taken: Vec::new(),
                    problem: None,
                    tags: Default::default(),
                    display: Default::default(),
                },
                Frontend {
                    id: "edge-b:7000".into(),
                    public_ips: vec!["203.0.113.20".into()],
                    capacity: 2,
                    port_range: Some(PortRange {
                        min: 7000,
                        max: 7000
                    }),
                    taken: Vec::new(),
                    problem: None,
                    tags: Default::default(),
                    display: Default::default(),
                },
                Frontend {
                    id: "edge-b:7005".into(),
                    public_ips: vec!["203.0.113.20".into()],
                    capacity: 2,
                    port_range: Some(PortRange {
                        min: 7005,
                        max: 7005
                    }),
                    taken: Vec::new(),
                    problem: None,
                    tags: Default::default(),
                    display: Default::default(),
                },
            ]
        );
        assert_eq!(catalog.all()[0].frontend(25).capacity, 0);
    }

    #[test]
    fn resources_may_name_frontends_by_either_id() {
        let catalog = catalog();
        let ids = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            catalog
                .narrowed(&names)
                .map(|offers| offers.iter().map(|o| o.id.clone()).collect::<Vec<_>>())
        };
        assert_eq!(ids(&[]).unwrap().len(), 3);
        assert_eq!(
            ids(&["edge-b"]).unwrap(),
            vec!["edge-b:7000", "edge-b:7005"]
        );
        assert_eq!(ids(&["edge-b:7005"]).unwrap(), vec!["edge-b:7005"]);
        let error = ids(&["edge-a", "edge-c"]).unwrap_err();
        assert_eq!(error.reason(), reason::FRONTEND_NOT_FOUND);
    }

    #[test]
    fn slots_map_to_table_entries_only_while_offered() {
        let catalog = catalog();
        assert_eq!(
            catalog.place(&slot("edge-b:7005", Some("203.0.113.20"), 7005)),
            Ok(PublicPort {
                ip: "203.0.113.20".parse().unwrap(),
                port: 7005,
                protocol: Protocol::Udp,
            })
        );
        for (bad, why) in [
            (
                slot("edge-c", Some("203.0.113.20"), 7005),
                "no such frontend",
            ),
            (
                slot("edge-b:7005", Some("203.0.113.20"), 7000),
                "7005-7005 only",
            ),
            (
                slot("edge-a", Some("203.0.113.20"), 20000),
                "is 203.0.113.10",
            ),
            (slot("edge-a", None, 20000), "publicIp is required"),
        ] {
            let error = catalog.place(&bad).unwrap_err();
            assert_eq!(error.reason(), reason::SLOT_NOT_IN_TABLE);
            assert!(error.message().contains(why), "{error}");
        }
        let pod_address = Slot::PodAddress {
            pod_name: "gs-0".into(),
            port: 9000,
            protocol: Protocol::Tcp,
        };
        assert!(matches!(
            catalog.place(&pod_address),
            Err(ProviderError::Permanent { .. })
        ));
    }
}
