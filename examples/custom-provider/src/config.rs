//! The provider's section of the controller's config file, `providers.static-table`:
//!
//! ```yaml
//! providers:
//!   static-table:
//!     tableFile: /var/run/static-table/table.json
//!     frontends:
//!       - id: edge-a                 # a device (or a VIP of one)
//!         publicIp: 203.0.113.10
//!         portRange: {min: 20000, max: 20099}
//!       - id: edge-b
//!         publicIp: 203.0.113.20
//!         ports: [7000, 7005, 7010]  # only these are forwarded
//! ```
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;

/// What `providers.static-table` says.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticTableConfig {
    /// Read by the controller (`enabled: false` keeps the provider out of the registry); listed
    /// here so that the section can be parsed with unknown keys refused.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// The mapping table this provider keeps, read by the device's agent. Its directory must
    /// exist (a volume shared with the agent); the file is created on the first write.
    pub table_file: PathBuf,
    /// The public addresses the device forwards, in the order allocation should prefer them.
    pub frontends: Vec<FrontendConfig>,
}

fn enabled() -> bool {
    true
}

/// One public IP of the device and the ports on it that the device forwards. Every port serves
/// TCP and UDP separately: (IP, port, TCP) and (IP, port, UDP) are two entries of the table and
/// may go to different Pods.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendConfig {
    /// Shown in each child's `lbId`; letters, digits, `.`, `_`, `-`.
    pub id: String,
    pub public_ip: IpAddr,
    /// A contiguous range of ports, inclusive. Exactly one of `portRange` and `ports`.
    #[serde(default)]
    pub port_range: Option<PortRangeConfig>,
    /// Individual ports.
    #[serde(default)]
    pub ports: Vec<u16>,
}

/// `{min: 20000, max: 20099}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRangeConfig {
    pub min: u16,
    pub max: u16,
}

/// The section is missing pieces or contradicts itself. Every problem is listed at once, so a
/// user fixes the file in one go.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("providers.static-table: {0}")]
    Parse(String),
    #[error("providers.static-table: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl StaticTableConfig {
    /// Parses and validates the section as the controller hands it over
    /// (`ControllerConfig::custom_section`).
    pub fn from_section(section: &serde_json::Value) -> Result<Self, ConfigError> {
        let config: Self = serde_json::from_value(section.clone())
            .map_err(|error| ConfigError::Parse(error.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.table_file.as_os_str().is_empty() {
            problems.push("tableFile is required".to_string());
        }
        if self.frontends.is_empty() {
            problems.push("frontends lists nothing to hand out".to_string());
        }
        let mut ids = BTreeSet::new();
        // (IP, port) -> the frontend that lists it: one public port must have one owner, or
        // two Pods could be given the same address.
        let mut listed: BTreeMap<(IpAddr, u16), &str> = BTreeMap::new();
        for frontend in &self.frontends {
            let id = frontend.id.as_str();
            if !is_valid_id(id) {
                problems.push(format!(
                    "frontend id {id:?} must be 1-63 letters, digits, '.', '_' or '-'"
                ));
            } else if !ids.insert(id) {
                problems.push(format!("frontend {id} is listed twice"));
            }
            match (&frontend.port_range, frontend.ports.is_empty()) {
                (Some(_), false) => {
                    problems.push(format!("frontend {id}: give portRange or ports, not both"))
                }
                (None, true) => problems.push(format!("frontend {id}: give portRange or ports")),
                (Some(range), true) if range.min == 0 || range.min > range.max => {
                    problems.push(format!(
                        "frontend {id}: portRange must satisfy 1 <= min <= max, got {}-{}",
                        range.min, range.max
                    ))
                }
                _ => {}
            }
            let mut seen = BTreeSet::new();
            for &port in &frontend.ports {
                if port == 0 {
                    problems.push(format!("frontend {id}: port 0 is not a port"));
                } else if !seen.insert(port) {
                    problems.push(format!("frontend {id}: port {port} is listed twice"));
                }
            }
            for port in frontend.port_list() {
                if let Some(other) = listed.insert((frontend.public_ip, port), id)
                    && other != id
                {
                    problems.push(format!(
                        "{}:{port} is listed by frontends {other} and {id}",
                        frontend.public_ip
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

impl FrontendConfig {
    /// Every port this frontend forwards, ascending (invalid ones included: validation reports
    /// them).
    pub fn port_list(&self) -> Vec<u16> {
        match &self.port_range {
            Some(range) if range.min <= range.max => (range.min..=range.max).collect(),
            Some(_) => Vec::new(),
            None => {
                let mut ports = self.ports.clone();
                ports.sort_unstable();
                ports.dedup();
                ports
            }
        }
    }
}

/// Frontend ids go into allocated slots' `lbId`, and `:` separates the port in the ids of
/// single-port frontends (see [`crate::catalog`]), so it is not allowed here.
fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 63
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_documented_section_parses() {
        let config = StaticTableConfig::from_section(&json!({
            "tableFile": "/var/run/static-table/table.json",
            "frontends": [
                {"id": "edge-a", "publicIp": "203.0.113.10", "portRange": {"min": 20000, "max": 20099}},
                {"id": "edge-b", "publicIp": "203.0.113.20", "ports": [7010, 7000, 7005]},
            ],
        }))
        .unwrap();
        assert!(config.enabled);
        assert_eq!(config.frontends[0].port_list().len(), 100);
        assert_eq!(config.frontends[1].port_list(), vec![7000, 7005, 7010]);
    }

    #[test]
    fn typos_are_refused() {
        let error = StaticTableConfig::from_section(&json!({
            "tableFile": "/t.json",
            "frontend": [],
        }))
        .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `frontend`"),
            "{error}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let error = StaticTableConfig::from_section(&json!({
            "tableFile": "",
            "frontends": [
                {"id": "a:1", "publicIp": "203.0.113.1", "ports": [1]},
                {"id": "b", "publicIp": "203.0.113.1", "portRange": {"min": 10, "max": 5}},
                {"id": "b", "publicIp": "203.0.113.1"},
                {"id": "c", "publicIp": "203.0.113.2", "ports": [5, 5, 0]},
                {"id": "d", "publicIp": "203.0.113.2", "portRange": {"min": 4, "max": 6}},
                {"id": "e", "publicIp": "203.0.113.3", "ports": [1], "portRange": {"min": 1, "max": 2}},
            ],
        }))
        .unwrap_err();
        let ConfigError::Invalid(problems) = error else {
            panic!("expected validation problems, got {error}");
        };
        assert_eq!(
            problems,
            vec![
                "tableFile is required",
                "frontend id \"a:1\" must be 1-63 letters, digits, '.', '_' or '-'",
                "frontend b: portRange must satisfy 1 <= min <= max, got 10-5",
                "frontend b is listed twice",
                "frontend b: give portRange or ports",
                "frontend c: port 5 is listed twice",
                "frontend c: port 0 is not a port",
                "203.0.113.2:5 is listed by frontends c and d",
                "frontend e: give portRange or ports, not both",
            ]
        );
    }

    #[test]
    fn the_same_port_on_two_ips_is_fine() {
        let config = StaticTableConfig::from_section(&json!({
            "tableFile": "/t.json",
            "frontends": [
                {"id": "a", "publicIp": "203.0.113.1", "ports": [7000]},
                {"id": "b", "publicIp": "2001:db8::1", "ports": [7000]},
            ],
        }));
        assert!(config.is_ok(), "{config:?}");
    }
}
