//! The Pod annotations of the pool API (tke-extend-network-controller v2.x compatible): the keys,
//! the `clb-port-mapping` rule format, and the `clb-port-mapping-result` JSON.
//!
//! A Pod opts in with `enable-clb-port-mapping: "true"` and lists its ports in
//! `clb-port-mapping`, one rule per line:
//!
//! ```text
//! PORT PROTOCOL POOL[,POOL...] [OPTION[,OPTION...]]
//! 8000 UDP pool-test
//! 7000 TCPUDP pool-ctcc,pool-cmcc useSamePortAcrossPools
//! 8443 TCP_SSL pool-test certSecret=game-cert
//! ```
//!
//! Unlike upstream, which refuses the whole annotation for one bad line, [`parse`] judges each
//! line on its own, so a Pod's good lines are bound while its bad ones are reported. Blank lines
//! are skipped (upstream refuses one in the middle). There is no comment syntax, as upstream: a
//! line starting with `#` is reported as an error.
//!
//! Nothing here talks to the API server.
use crate::crd::{
    BindingPort, BindingProtocol, CLBPodBindingSpec, CLBPortPool, PortBinding, sort_port_bindings,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Pod annotation: `"true"` asks for a `CLBPodBinding`, `"false"` keeps it but isolates the Pod
/// (`spec.disabled`), any other non-empty value removes it. See [`MappingSwitch`].
pub const ENABLE_PORT_MAPPING: &str = "networking.cloud.tencent.com/enable-clb-port-mapping";
/// Pod annotation: the rules, parsed by [`parse`].
pub const PORT_MAPPING: &str = "networking.cloud.tencent.com/clb-port-mapping";
/// Pod annotation the controller writes: the JSON built by [`result_annotation`].
pub const PORT_MAPPING_RESULT: &str = "networking.cloud.tencent.com/clb-port-mapping-result";
/// Pod annotation the controller writes together with the result: [`STATUS_READY`].
pub const PORT_MAPPING_STATUS: &str = "networking.cloud.tencent.com/clb-port-mapping-status";
/// The only value of [`PORT_MAPPING_STATUS`].
pub const STATUS_READY: &str = "Ready";
/// Pod annotation: `"true"` keeps the binding (and so its public ports) when the Pod is
/// deleted, for a Pod of the same name to take over. See [`is_retained`].
pub const RETAIN: &str = "networking.cloud.tencent.com/retain";
/// Pod annotation of upstream's HostPort mode, which this controller does not implement; known
/// here so that it can be reported rather than silently ignored.
pub const ENABLE_HOSTPORT_MAPPING: &str =
    "networking.cloud.tencent.com/enable-clb-hostport-mapping";
/// The finalizer upstream's controller puts on pools and bindings; objects it created may still
/// carry it after a migration.
pub const UPSTREAM_FINALIZER: &str = "networking.cloud.tencent.com/finalizer";
/// The data key, in the Secret named by `certSecretName`, holding the cloud certificate id.
pub const CERT_ID_KEY: &str = "qcloud_cert_id";
/// Pod label naming the Agones GameServer (same namespace) that also gets the result
/// annotation.
pub const AGONES_GAMESERVER_LABEL: &str = "agones.dev/gameserver";

/// What a Pod's [`ENABLE_PORT_MAPPING`] annotation asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingSwitch {
    /// Absent or empty: the pool API leaves the Pod alone.
    Ignore,
    /// `"true"`: a binding, with the Pod as the target.
    Enabled,
    /// `"false"`: a binding whose slots are kept but whose Pod is taken off them.
    Disabled,
    /// Anything else: no binding; an existing one is deleted.
    Remove,
}

impl MappingSwitch {
    /// Reads the annotation's value.
    pub fn from_annotation(value: Option<&str>) -> Self {
        match value {
            None | Some("") => Self::Ignore,
            Some("true") => Self::Enabled,
            Some("false") => Self::Disabled,
            Some(_) => Self::Remove,
        }
    }
}

/// Whether a [`RETAIN`] annotation value keeps the binding beyond its Pod (exactly `"true"`).
pub fn is_retained(value: Option<&str>) -> bool {
    value == Some("true")
}

/// One well-formed line of a `clb-port-mapping` annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMappingEntry {
    /// 1-based position of the line in the annotation.
    pub line_number: usize,
    pub port: u16,
    pub protocol: BindingProtocol,
    /// At least one, none empty.
    pub pools: Vec<String>,
    /// The `useSamePortAcrossPools` option.
    pub use_same_port_across_pools: bool,
    /// The `certSecret=<name>` option.
    pub cert_secret_name: Option<String>,
}

impl PortMappingEntry {
    /// The binding's `spec.ports` entry, written the way upstream writes it (an unset option is
    /// absent, not `false`), so a binding made by either controller compares equal.
    pub fn to_binding_port(&self) -> BindingPort {
        BindingPort {
            port: self.port,
            protocol: self.protocol,
            pools: self.pools.clone(),
            use_same_port_across_pools: self.use_same_port_across_pools.then_some(true),
            cert_secret_name: self.cert_secret_name.clone(),
        }
    }
}

/// A line of a `clb-port-mapping` annotation that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("clb-port-mapping line {line_number} ({line:?}): {reason}")]
pub struct LineError {
    /// 1-based position of the line in the annotation.
    pub line_number: usize,
    /// The line, without its line break and surrounding whitespace.
    pub line: String,
    pub reason: LineErrorReason,
}

/// Why a line cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineErrorReason {
    #[error("expected PORT PROTOCOL POOL[,POOL...] [OPTIONS]")]
    TooFewFields,
    #[error("there is no comment syntax; remove the line")]
    Comment,
    #[error("bad port number {0:?}: expected 1-65535")]
    BadPort(String),
    #[error("{0}")]
    UnknownProtocol(#[from] crate::crd::UnknownProtocol),
    #[error("empty pool name in {0:?}")]
    EmptyPoolName(String),
}

/// Parses a `clb-port-mapping` value: one result per non-blank line, in order. Lines end with
/// `\n` or `\r\n`; fields are separated by runs of whitespace; fields after the fourth are
/// ignored, and so are unknown options.
pub fn parse(value: &str) -> Vec<Result<PortMappingEntry, LineError>> {
    value
        .split('\n')
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| parse_line(index + 1, line))
        .collect()
}

fn parse_line(line_number: usize, raw: &str) -> Result<PortMappingEntry, LineError> {
    let line = raw.trim();
    let error = |reason| LineError {
        line_number,
        line: line.to_string(),
        reason,
    };
    if line.starts_with('#') {
        return Err(error(LineErrorReason::Comment));
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [port, protocol, pools, rest @ ..] = fields.as_slice() else {
        return Err(error(LineErrorReason::TooFewFields));
    };
    let port = parse_port(port).ok_or_else(|| error(LineErrorReason::BadPort(port.to_string())))?;
    let protocol: BindingProtocol = protocol
        .parse()
        .map_err(|e| error(LineErrorReason::UnknownProtocol(e)))?;
    let pools: Vec<String> = pools.split(',').map(str::to_string).collect();
    if pools.iter().any(String::is_empty) {
        return Err(error(LineErrorReason::EmptyPoolName(fields[2].to_string())));
    }
    let mut entry = PortMappingEntry {
        line_number,
        port,
        protocol,
        pools,
        use_same_port_across_pools: false,
        cert_secret_name: None,
    };
    if let Some(options) = rest.first() {
        for option in options.split(',') {
            match option.split('=').collect::<Vec<_>>().as_slice() {
                ["useSamePortAcrossPools"] => entry.use_same_port_across_pools = true,
                ["certSecret", name] if !name.is_empty() => {
                    entry.cert_secret_name = Some(name.to_string())
                }
                _ => {}
            }
        }
    }
    Ok(entry)
}

/// A decimal port, 1-65535, digits only (no sign).
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|port| *port != 0)
}

/// A `clb-port-mapping` value, split into its usable entries and its bad lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMapping {
    pub entries: Vec<PortMappingEntry>,
    pub errors: Vec<LineError>,
}

impl PortMapping {
    pub fn parse(value: &str) -> Self {
        let mut mapping = Self::default();
        for result in parse(value) {
            match result {
                Ok(entry) => mapping.entries.push(entry),
                Err(error) => mapping.errors.push(error),
            }
        }
        mapping
    }

    /// The `CLBPodBinding` spec for these entries; `disabled` from
    /// [`MappingSwitch::Disabled`]. Bad lines are left out (report [`Self::errors`]).
    pub fn binding_spec(&self, disabled: bool) -> CLBPodBindingSpec {
        CLBPodBindingSpec {
            disabled: disabled.then_some(true),
            ports: self
                .entries
                .iter()
                .map(PortMappingEntry::to_binding_port)
                .collect(),
        }
    }
}

/// One slot a binding needs: a container port, a protocol that is never `TCPUDP`, and a pool.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WantedSlot {
    pub port: u16,
    pub protocol: BindingProtocol,
    pub pool: String,
}

/// Every slot a binding's ports ask for, `TCPUDP` split into `TCP` and `UDP`, without
/// duplicates, in order.
pub fn wanted_slots(ports: &[BindingPort]) -> Vec<WantedSlot> {
    let mut slots = Vec::new();
    for entry in ports {
        for pool in &entry.pools {
            for &protocol in entry.protocol.split() {
                let slot = WantedSlot {
                    port: entry.port,
                    protocol,
                    pool: pool.clone(),
                };
                if !slots.contains(&slot) {
                    slots.push(slot);
                }
            }
        }
    }
    slots
}

/// How a frontend is reached: what the result annotation's `hostname`, `ips` and `address` come
/// from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrontendAddress {
    /// The domain name of a CLB with a dynamic VIP.
    pub hostname: Option<String>,
    /// Its public IPs, the first one making the address when there is no hostname.
    pub ips: Vec<String>,
}

/// The frontends' addresses, by (pool name, frontend id), as the pools' statuses record them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrontendAddresses(BTreeMap<(String, String), FrontendAddress>);

impl FrontendAddresses {
    /// Reads `status.loadbalancerStatuses` of every pool.
    pub fn from_pools<'a>(pools: impl IntoIterator<Item = &'a CLBPortPool>) -> Self {
        let mut addresses = Self::default();
        for pool in pools {
            let Some(name) = pool.metadata.name.as_deref() else {
                continue;
            };
            for lb in pool.status.iter().flat_map(|s| &s.loadbalancer_statuses) {
                addresses.insert(
                    name,
                    &lb.loadbalancer_id,
                    FrontendAddress {
                        hostname: lb.hostname.clone(),
                        ips: lb.ips.clone(),
                    },
                );
            }
        }
        addresses
    }

    pub fn insert(&mut self, pool: &str, frontend_id: &str, address: FrontendAddress) {
        self.0
            .insert((pool.to_string(), frontend_id.to_string()), address);
    }

    pub fn get(&self, pool: &str, frontend_id: &str) -> Option<&FrontendAddress> {
        self.0.get(&(pool.to_string(), frontend_id.to_string()))
    }
}

/// A port binding's frontend is not in its pool's status, so its address is unknown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("frontend {frontend_id} is not in the status of pool {pool}")]
pub struct UnknownFrontend {
    pub pool: String,
    pub frontend_id: String,
}

/// One element of the `clb-port-mapping-result` array: a port binding plus how to reach it.
/// The field order is the key order upstream emits; optional keys are left out when unset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingResult {
    pub port: u16,
    pub protocol: BindingProtocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_id: Option<String>,
    pub pool: String,
    pub region: String,
    pub loadbalancer_id: String,
    pub loadbalancer_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loadbalancer_end_port: Option<u16>,
    pub listener_id: String,
    #[serde(
        default,
        rename = "addressIPVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub address_ip_version: Option<String>,
    /// The last container port of a port-range slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// `host:loadbalancerPort`, host being the hostname or else the first IP (an IPv6 address
    /// is not bracketed, as upstream); empty when the frontend has neither.
    pub address: String,
}

impl MappingResult {
    /// Combines a port binding with its frontend's address. A `natgw` slot's own `publicIp`
    /// takes the place of the gateway's IPs.
    pub fn new(binding: &PortBinding, frontend: &FrontendAddress) -> Self {
        let (hostname, ips) = match &binding.public_ip {
            Some(ip) => (None, vec![ip.clone()]),
            None => (frontend.hostname.clone(), frontend.ips.clone()),
        };
        let host = hostname
            .as_deref()
            .filter(|h| !h.is_empty())
            .or(ips.first().map(String::as_str))
            .unwrap_or_default();
        let address = if host.is_empty() {
            String::new()
        } else {
            format!("{host}:{}", binding.loadbalancer_port)
        };
        Self {
            port: binding.port,
            protocol: binding.protocol,
            cert_id: binding.cert_id.clone(),
            pool: binding.pool.clone(),
            region: binding.region.clone(),
            loadbalancer_id: binding.loadbalancer_id.clone(),
            loadbalancer_port: binding.loadbalancer_port,
            loadbalancer_end_port: binding.loadbalancer_end_port,
            listener_id: binding.listener_id.clone(),
            address_ip_version: binding.address_ip_version.clone(),
            end_port: binding.end_port(),
            hostname,
            ips,
            address,
        }
    }
}

/// The result entries for a binding's port bindings, in status order
/// ([`sort_port_bindings`]). Fails when a frontend's address is unknown: a partial result
/// would tell the Pod it has fewer ports than it has.
pub fn mapping_results(
    bindings: &[PortBinding],
    addresses: &FrontendAddresses,
) -> Result<Vec<MappingResult>, UnknownFrontend> {
    let mut sorted = bindings.to_vec();
    sort_port_bindings(&mut sorted);
    sorted
        .iter()
        .map(|binding| {
            let frontend = match (
                addresses.get(&binding.pool, &binding.loadbalancer_id),
                &binding.public_ip,
            ) {
                (Some(frontend), _) => frontend.clone(),
                // A natgw slot carries its own address.
                (None, Some(_)) => FrontendAddress::default(),
                (None, None) => {
                    return Err(UnknownFrontend {
                        pool: binding.pool.clone(),
                        frontend_id: binding.loadbalancer_id.clone(),
                    });
                }
            };
            Ok(MappingResult::new(binding, &frontend))
        })
        .collect()
}

/// The value of [`PORT_MAPPING_RESULT`]: [`mapping_results`] as compact JSON.
pub fn result_annotation(
    bindings: &[PortBinding],
    addresses: &FrontendAddresses,
) -> Result<String, UnknownFrontend> {
    let results = mapping_results(bindings, addresses)?;
    Ok(serde_json::to_string(&results).expect("strings and integers always serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{CLBPortPoolStatus, PoolLoadBalancerStatus};

    fn entry(
        line_number: usize,
        port: u16,
        protocol: BindingProtocol,
        pools: &[&str],
    ) -> PortMappingEntry {
        PortMappingEntry {
            line_number,
            port,
            protocol,
            pools: pools.iter().map(|p| p.to_string()).collect(),
            use_same_port_across_pools: false,
            cert_secret_name: None,
        }
    }

    fn ok(value: &str) -> Vec<PortMappingEntry> {
        let mapping = PortMapping::parse(value);
        assert!(mapping.errors.is_empty(), "{:?}", mapping.errors);
        mapping.entries
    }

    fn reasons(value: &str) -> Vec<(usize, LineErrorReason)> {
        PortMapping::parse(value)
            .errors
            .into_iter()
            .map(|e| (e.line_number, e.reason))
            .collect()
    }

    #[test]
    fn the_guides_lines_parse() {
        use BindingProtocol::*;
        assert_eq!(
            ok("8000 UDP pool-test"),
            [entry(1, 8000, Udp, &["pool-test"])]
        );
        assert_eq!(
            ok("7000 TCPUDP pool-test"),
            [entry(1, 7000, TcpUdp, &["pool-test"])]
        );
        assert_eq!(
            ok("8000 TCP pool-ipv6"),
            [entry(1, 8000, Tcp, &["pool-ipv6"])]
        );
        assert_eq!(
            ok("7654 TCPUDP pool-test"),
            [entry(1, 7654, TcpUdp, &["pool-test"])]
        );
        assert_eq!(
            ok("7000 UDP pool-port-range"),
            [entry(1, 7000, Udp, &["pool-port-range"])]
        );

        let mut multi = entry(
            1,
            8000,
            TcpUdp,
            &["pool-ctcc", "pool-cmcc", "pool-cucc", "pool-bgp"],
        );
        multi.use_same_port_across_pools = true;
        assert_eq!(
            ok("8000 TCPUDP pool-ctcc,pool-cmcc,pool-cucc,pool-bgp useSamePortAcrossPools"),
            [multi]
        );

        let mut tls = entry(1, 8000, TcpSsl, &["pool-test"]);
        tls.cert_secret_name = Some("cert-secret".into());
        assert_eq!(ok("8000 TCP_SSL pool-test certSecret=cert-secret"), [tls]);

        // The StatefulSet's `|-` block: two lines, no trailing newline.
        assert_eq!(
            ok("8000 UDP pool-test\n7000 TCPUDP pool-test"),
            [
                entry(1, 8000, Udp, &["pool-test"]),
                entry(2, 7000, TcpUdp, &["pool-test"])
            ]
        );
    }

    #[test]
    fn line_breaks_and_whitespace() {
        use BindingProtocol::*;
        // OpenKruise Game writes one line per port, each ending in a newline.
        assert_eq!(
            ok("8000 UDP gs-ns-gss\n9000 TCP gs-ns-gss\n"),
            [
                entry(1, 8000, Udp, &["gs-ns-gss"]),
                entry(2, 9000, Tcp, &["gs-ns-gss"])
            ]
        );
        assert_eq!(
            ok("8000 UDP a\r\n9000 QUIC b\r\n"),
            [entry(1, 8000, Udp, &["a"]), entry(2, 9000, Quic, &["b"])]
        );
        // Indentation, tabs and runs of spaces separate fields too.
        assert_eq!(ok("   8000\t\tUDP    a  \n"), [entry(1, 8000, Udp, &["a"])]);
        // Fields after the options are ignored; so are unknown options.
        let mut extra = entry(1, 8000, Tcp, &["a"]);
        extra.use_same_port_across_pools = true;
        assert_eq!(
            ok("8000 TCP a foo,useSamePortAcrossPools,x=y=z trailing words"),
            [extra]
        );
        assert!(ok("").is_empty());
        assert!(ok("\n").is_empty());
    }

    #[test]
    fn blank_lines_are_skipped_and_keep_the_numbering() {
        use BindingProtocol::*;
        // Upstream refuses the whole annotation for a blank line in the middle; we skip it.
        assert_eq!(
            ok("8000 UDP a\n\n   \n9000 TCP b\n\n"),
            [entry(1, 8000, Udp, &["a"]), entry(4, 9000, Tcp, &["b"])]
        );
    }

    #[test]
    fn a_bad_line_is_reported_and_the_others_kept() {
        let value = "8000 UDP a\n# game ports\n9000 tcp a\n70000 TCP a\n0 TCP a\n+80 TCP a\nport TCP a\n9000 TCP\n9001 TCP a,,b\n9002 TCPUDP b\n";
        let mapping = PortMapping::parse(value);
        assert_eq!(
            mapping.entries,
            [
                entry(1, 8000, BindingProtocol::Udp, &["a"]),
                entry(10, 9002, BindingProtocol::TcpUdp, &["b"]),
            ]
        );
        assert_eq!(
            reasons(value),
            [
                (2, LineErrorReason::Comment),
                (
                    3,
                    LineErrorReason::UnknownProtocol(crate::crd::UnknownProtocol("tcp".into()))
                ),
                (4, LineErrorReason::BadPort("70000".into())),
                (5, LineErrorReason::BadPort("0".into())),
                (6, LineErrorReason::BadPort("+80".into())),
                (7, LineErrorReason::BadPort("port".into())),
                (8, LineErrorReason::TooFewFields),
                (9, LineErrorReason::EmptyPoolName("a,,b".into())),
            ]
        );
        // The message names the line, so a user can find it.
        let error = &mapping.errors[1];
        assert_eq!(error.line, "9000 tcp a");
        let text = error.to_string();
        assert!(
            text.contains("line 3") && text.contains("9000 tcp a"),
            "{text}"
        );
        assert!(text.contains("TCP, UDP, TCPUDP, TCP_SSL, QUIC"), "{text}");
        // `parse` itself gives one result per non-blank line, in order.
        let results = parse(value);
        assert_eq!(results.len(), 10);
        assert!(results[0].is_ok() && results[1].is_err() && results[9].is_ok());
    }

    #[test]
    fn every_protocol_spelling_is_exact() {
        for protocol in BindingProtocol::ALL {
            let line = format!("8000 {protocol} a");
            assert_eq!(ok(&line)[0].protocol, protocol);
        }
        for bad in ["tcp", "Udp", "TCP-SSL", "SCTP", "HTTP"] {
            assert!(
                matches!(
                    reasons(&format!("8000 {bad} a"))[..],
                    [(1, LineErrorReason::UnknownProtocol(_))]
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn entries_become_the_binding_spec_upstream_writes() {
        let mapping = PortMapping::parse(
            "8000 TCPUDP pool-ctcc,pool-cmcc useSamePortAcrossPools\n8443 TCP_SSL pool-test certSecret=cert-secret\nbad\n",
        );
        assert_eq!(mapping.errors.len(), 1);
        let spec = mapping.binding_spec(false);
        assert_eq!(
            serde_json::to_value(&spec).unwrap(),
            serde_json::json!({
                "ports": [
                    {"port": 8000, "protocol": "TCPUDP", "pools": ["pool-ctcc", "pool-cmcc"], "useSamePortAcrossPools": true},
                    {"port": 8443, "protocol": "TCP_SSL", "pools": ["pool-test"], "certSecretName": "cert-secret"},
                ],
            })
        );
        let disabled = mapping.binding_spec(true);
        assert_eq!(disabled.disabled, Some(true));
        assert_eq!(disabled.ports, spec.ports);
        // An empty certSecret is no certificate.
        assert_eq!(ok("8443 QUIC a certSecret=")[0].cert_secret_name, None);
    }

    #[test]
    fn tcpudp_asks_for_a_tcp_and_a_udp_slot() {
        let spec =
            PortMapping::parse("7000 TCPUDP a,b\n7000 TCP a\n8000 QUIC a\n").binding_spec(false);
        let slot = |port, protocol, pool: &str| WantedSlot {
            port,
            protocol,
            pool: pool.to_string(),
        };
        assert_eq!(
            wanted_slots(&spec.ports),
            [
                slot(7000, BindingProtocol::Tcp, "a"),
                slot(7000, BindingProtocol::Udp, "a"),
                slot(7000, BindingProtocol::Tcp, "b"),
                slot(7000, BindingProtocol::Udp, "b"),
                slot(8000, BindingProtocol::Quic, "a"),
            ]
        );
    }

    #[test]
    fn the_switch_and_retain_annotations() {
        assert_eq!(MappingSwitch::from_annotation(None), MappingSwitch::Ignore);
        assert_eq!(
            MappingSwitch::from_annotation(Some("")),
            MappingSwitch::Ignore
        );
        assert_eq!(
            MappingSwitch::from_annotation(Some("true")),
            MappingSwitch::Enabled
        );
        assert_eq!(
            MappingSwitch::from_annotation(Some("false")),
            MappingSwitch::Disabled
        );
        assert_eq!(
            MappingSwitch::from_annotation(Some("True")),
            MappingSwitch::Remove
        );
        assert!(is_retained(Some("true")));
        assert!(!is_retained(Some("yes")) && !is_retained(None));
    }

    fn slot(port: u16, protocol: BindingProtocol, listener: &str) -> PortBinding {
        PortBinding {
            port,
            protocol,
            cert_id: None,
            pool: "pool-test".into(),
            region: "ap-chengdu".into(),
            loadbalancer_id: "lb-6phn6qgb".into(),
            loadbalancer_port: 30000,
            loadbalancer_end_port: None,
            listener_id: listener.into(),
            address_ip_version: None,
            public_ip: None,
        }
    }

    fn addresses(hostname: Option<&str>, ips: &[&str]) -> FrontendAddresses {
        let mut addresses = FrontendAddresses::default();
        addresses.insert(
            "pool-test",
            "lb-6phn6qgb",
            FrontendAddress {
                hostname: hostname.map(str::to_string),
                ips: ips.iter().map(|ip| ip.to_string()).collect(),
            },
        );
        addresses
    }

    #[test]
    fn the_guides_result_is_reproduced_byte_for_byte() {
        // `80 TCPUDP pool-test` on a CLB with a VIP, listed in the wrong order on purpose.
        let bindings = [
            slot(80, BindingProtocol::Udp, "lbl-bbxvltnv"),
            slot(80, BindingProtocol::Tcp, "lbl-qvjvdt9n"),
        ];
        assert_eq!(
            result_annotation(&bindings, &addresses(None, &["111.231.210.160"])).unwrap(),
            r#"[{"port":80,"protocol":"TCP","pool":"pool-test","region":"ap-chengdu","loadbalancerId":"lb-6phn6qgb","loadbalancerPort":30000,"listenerId":"lbl-qvjvdt9n","ips":["111.231.210.160"],"address":"111.231.210.160:30000"},{"port":80,"protocol":"UDP","pool":"pool-test","region":"ap-chengdu","loadbalancerId":"lb-6phn6qgb","loadbalancerPort":30000,"listenerId":"lbl-bbxvltnv","ips":["111.231.210.160"],"address":"111.231.210.160:30000"}]"#
        );

        // The same on a CLB with a domain name.
        let host = "lb-6phn6qgb-8gcf1q6kd092nxsl.clb.cd-tencentclb.work";
        assert_eq!(
            result_annotation(&bindings, &addresses(Some(host), &[])).unwrap(),
            r#"[{"port":80,"protocol":"TCP","pool":"pool-test","region":"ap-chengdu","loadbalancerId":"lb-6phn6qgb","loadbalancerPort":30000,"listenerId":"lbl-qvjvdt9n","hostname":"lb-6phn6qgb-8gcf1q6kd092nxsl.clb.cd-tencentclb.work","address":"lb-6phn6qgb-8gcf1q6kd092nxsl.clb.cd-tencentclb.work:30000"},{"port":80,"protocol":"UDP","pool":"pool-test","region":"ap-chengdu","loadbalancerId":"lb-6phn6qgb","loadbalancerPort":30000,"listenerId":"lbl-bbxvltnv","hostname":"lb-6phn6qgb-8gcf1q6kd092nxsl.clb.cd-tencentclb.work","address":"lb-6phn6qgb-8gcf1q6kd092nxsl.clb.cd-tencentclb.work:30000"}]"#
        );

        // IPv6: the address is not bracketed.
        let mut ipv6 = slot(8000, BindingProtocol::Tcp, "lbl-xxx");
        ipv6.pool = "pool-ipv6".into();
        ipv6.loadbalancer_id = "lb-xxx".into();
        let mut v6 = FrontendAddresses::default();
        v6.insert(
            "pool-ipv6",
            "lb-xxx",
            FrontendAddress {
                hostname: None,
                ips: vec!["2402:4e00:c000:2e00:b8e2:4756:6648:1".into()],
            },
        );
        assert_eq!(
            result_annotation(&[ipv6], &v6).unwrap(),
            r#"[{"port":8000,"protocol":"TCP","pool":"pool-ipv6","region":"ap-chengdu","loadbalancerId":"lb-xxx","loadbalancerPort":30000,"listenerId":"lbl-xxx","ips":["2402:4e00:c000:2e00:b8e2:4756:6648:1"],"address":"2402:4e00:c000:2e00:b8e2:4756:6648:1:30000"}]"#
        );
    }

    #[test]
    fn every_optional_key_in_its_place() {
        let mut full = slot(8000, BindingProtocol::TcpSsl, "lbl-1");
        full.cert_id = Some("O6TkzGNJ".into());
        full.loadbalancer_end_port = Some(30009);
        full.address_ip_version = Some("IPV4".into());
        assert_eq!(
            result_annotation(&[full], &addresses(Some("h.example"), &["1.2.3.4"])).unwrap(),
            r#"[{"port":8000,"protocol":"TCP_SSL","certId":"O6TkzGNJ","pool":"pool-test","region":"ap-chengdu","loadbalancerId":"lb-6phn6qgb","loadbalancerPort":30000,"loadbalancerEndPort":30009,"listenerId":"lbl-1","addressIPVersion":"IPV4","endPort":8009,"hostname":"h.example","ips":["1.2.3.4"],"address":"h.example:30000"}]"#
        );
        // Neither hostname nor IPs: the address is present and empty.
        assert_eq!(
            result_annotation(&[slot(80, BindingProtocol::Udp, "")], &addresses(None, &[]))
                .unwrap(),
            r#"[{"port":80,"protocol":"UDP","pool":"pool-test","region":"ap-chengdu","loadbalancerId":"lb-6phn6qgb","loadbalancerPort":30000,"listenerId":"","address":""}]"#
        );
        assert_eq!(
            result_annotation(&[], &FrontendAddresses::default()).unwrap(),
            "[]"
        );
    }

    #[test]
    fn results_read_back_as_openkruise_game_reads_them() {
        let json = result_annotation(
            &[slot(80, BindingProtocol::Tcp, "lbl-1")],
            &addresses(None, &["111.231.210.160"]),
        )
        .unwrap();
        let read: Vec<MappingResult> = serde_json::from_str(&json).unwrap();
        assert_eq!(read[0].port, 80);
        assert_eq!(read[0].protocol, BindingProtocol::Tcp);
        let parts: Vec<_> = read[0].address.split(':').collect();
        assert_eq!(parts, ["111.231.210.160", "30000"]);
    }

    #[test]
    fn a_frontend_missing_from_its_pool_gives_no_partial_result() {
        let bindings = [slot(80, BindingProtocol::Tcp, "lbl-1")];
        assert_eq!(
            result_annotation(&bindings, &FrontendAddresses::default()),
            Err(UnknownFrontend {
                pool: "pool-test".into(),
                frontend_id: "lb-6phn6qgb".into()
            })
        );
    }

    #[test]
    fn natgw_slots_are_reached_at_their_own_eip() {
        let mut rule = slot(9000, BindingProtocol::Udp, "dnat-1");
        rule.pool = "pool-nat".into();
        rule.loadbalancer_id = "nat-1".into();
        rule.public_ip = Some("203.0.113.7".into());
        let mut gateways = FrontendAddresses::default();
        gateways.insert(
            "pool-nat",
            "nat-1",
            FrontendAddress {
                hostname: None,
                ips: vec!["203.0.113.6".into(), "203.0.113.7".into()],
            },
        );
        let results = mapping_results(std::slice::from_ref(&rule), &gateways).unwrap();
        assert_eq!(results[0].ips, ["203.0.113.7"]);
        assert_eq!(results[0].address, "203.0.113.7:30000");
        // It does not need the gateway in the pool's status to be reached.
        let results = mapping_results(&[rule], &FrontendAddresses::default()).unwrap();
        assert_eq!(results[0].address, "203.0.113.7:30000");
    }

    #[test]
    fn addresses_come_from_the_pools_statuses() {
        let mut pool = CLBPortPool::new(
            "pool-test",
            serde_json::from_value(serde_json::json!({"startPort": 30000})).unwrap(),
        );
        pool.status = Some(CLBPortPoolStatus {
            loadbalancer_statuses: vec![PoolLoadBalancerStatus {
                auto_created: None,
                state: "Running".into(),
                loadbalancer_id: "lb-6phn6qgb".into(),
                loadbalancer_name: "games".into(),
                ips: vec!["111.231.210.160".into()],
                hostname: None,
                allocated: 1,
                address_ip_version: None,
            }],
            ..Default::default()
        });
        let addresses = FrontendAddresses::from_pools([&pool]);
        assert_eq!(
            addresses.get("pool-test", "lb-6phn6qgb").unwrap().ips,
            ["111.231.210.160"]
        );
        assert!(addresses.get("pool-other", "lb-6phn6qgb").is_none());
    }
}
