//! DNAT rules as the provider reasons about them, and the resource id that names one.
//!
//! A DNAT rule has no id of its own in the API: Delete and Modify name it by all of its fields.
//! What the cloud keeps unique per gateway is its public side (protocol, EIP, public port), which
//! is exactly a slot, so the resource id is the gateway plus the public side.
use dac_provider_api::Protocol;
use dac_tencentcloud::models::vpc::{
    DestinationIpPortTranslationNatRule, NatGatewayDestinationIpPortTranslationNatRule,
};

/// The public side of a rule: one slot on a gateway.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PublicSide {
    pub protocol: Protocol,
    pub ip: String,
    pub port: u16,
}

impl PublicSide {
    /// The binding's address, `EIP:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

impl std::fmt::Display for PublicSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.ip, self.port, self.protocol)
    }
}

/// A rule as DescribeNatGatewayDestinationIpPortTranslationNatRules returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RuleView {
    pub public: PublicSide,
    /// Kept exactly as the cloud has them: Delete and Modify must name the rule by them.
    pub private_ip: String,
    pub private_port: i64,
    pub description: String,
}

impl RuleView {
    /// `None` for a rule this provider could never have made (another protocol, a port out of
    /// range); callers still count such rules against the gateway's rule limit.
    pub fn from_model(r: &NatGatewayDestinationIpPortTranslationNatRule) -> Option<Self> {
        Some(Self {
            public: PublicSide {
                protocol: parse_protocol(r.ip_protocol.as_deref()?)?,
                ip: r.public_ip_address.clone()?,
                port: u16::try_from(r.public_port?).ok()?,
            },
            private_ip: r.private_ip_address.clone().unwrap_or_default(),
            private_port: r.private_port.unwrap_or_default(),
            description: r.description.clone().unwrap_or_default(),
        })
    }

    /// Whether it forwards to exactly `ip:port`.
    pub fn points_to(&self, ip: &str, port: u16) -> bool {
        self.private_ip == ip && self.private_port == i64::from(port)
    }

    pub fn to_model(&self) -> DestinationIpPortTranslationNatRule {
        DestinationIpPortTranslationNatRule {
            ip_protocol: self.public.protocol.as_str().to_string(),
            public_ip_address: self.public.ip.clone(),
            public_port: i64::from(self.public.port),
            private_ip_address: self.private_ip.clone(),
            private_port: self.private_port,
            description: Some(self.description.clone()),
        }
    }
}

fn parse_protocol(s: &str) -> Option<Protocol> {
    if s.eq_ignore_ascii_case("TCP") {
        Some(Protocol::Tcp)
    } else if s.eq_ignore_ascii_case("UDP") {
        Some(Protocol::Udp)
    } else {
        None
    }
}

/// `nat-xxx/TCP/198.51.100.1/30000`: the gateway and the public side, which identify a rule.
pub(crate) fn resource_id(gateway: &str, public: &PublicSide) -> String {
    format!(
        "{gateway}/{}/{}/{}",
        public.protocol, public.ip, public.port
    )
}

/// Reads a [`resource_id`] back; `None` for anything else (a stale or foreign id).
pub(crate) fn parse_resource_id(id: &str) -> Option<(String, PublicSide)> {
    let mut parts = id.split('/');
    let (gateway, protocol, ip, port) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || gateway.is_empty() || ip.is_empty() {
        return None;
    }
    Some((
        gateway.to_string(),
        PublicSide {
            protocol: parse_protocol(protocol)?,
            ip: ip.to_string(),
            port: port.parse().ok()?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_round_trip() {
        let public = PublicSide {
            protocol: Protocol::Udp,
            ip: "198.51.100.1".into(),
            port: 30001,
        };
        let id = resource_id("nat-1", &public);
        assert_eq!(id, "nat-1/UDP/198.51.100.1/30001");
        assert_eq!(parse_resource_id(&id), Some(("nat-1".into(), public)));
        for bad in [
            "",
            "lbl-123",
            "nat-1/TCP/1.2.3.4",
            "nat-1/SCTP/1.2.3.4/1",
            "nat-1/TCP/1.2.3.4/70000",
            "nat-1/TCP/1.2.3.4/1/x",
        ] {
            assert_eq!(parse_resource_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_rules_as_described() {
        let model = NatGatewayDestinationIpPortTranslationNatRule {
            ip_protocol: Some("tcp".into()),
            public_ip_address: Some("198.51.100.1".into()),
            public_port: Some(30000),
            private_ip_address: Some("10.0.0.5".into()),
            private_port: Some(7000),
            description: None,
            ..Default::default()
        };
        let rule = RuleView::from_model(&model).unwrap();
        assert_eq!(rule.public.protocol, Protocol::Tcp);
        assert_eq!(rule.public.address(), "198.51.100.1:30000");
        assert!(rule.points_to("10.0.0.5", 7000));
        assert!(!rule.points_to("10.0.0.5", 7001));
        assert_eq!(rule.description, "");
        let wire = rule.to_model();
        assert_eq!(wire.ip_protocol, "TCP");
        assert_eq!(wire.private_port, 7000);
        let odd = NatGatewayDestinationIpPortTranslationNatRule {
            ip_protocol: Some("ICMP".into()),
            ..model
        };
        assert_eq!(RuleView::from_model(&odd), None);
    }
}
