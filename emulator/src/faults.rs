//! Fault injection: errors, latency and dropped connections, per action, on request.
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A fault rule, as in the config's `[[faults]]` and the body of `POST /_emulator/faults`:
/// `{"action":"CreateListener","code":"RequestLimitExceeded","message":"..","rate":1.0,
///   "count":3,"latencyMs":0,"drop":false,"afterApply":false}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// The action it applies to; `*` for every action.
    #[serde(default = "any_action")]
    pub action: String,
    /// The error code to answer with; `None` for a rule that only delays or drops.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Probability (0..=1) that a matching request is hit.
    #[serde(default = "always")]
    pub rate: f64,
    /// How many more times the rule may fire; `None` for no limit.
    #[serde(default)]
    pub count: Option<u32>,
    /// Delay before the answer (or the drop), when the rule fires.
    #[serde(default)]
    pub latency_ms: u64,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop: bool,
    /// Let the call succeed but its asynchronous task fail: DescribeTaskStatus ends in 1,
    /// DescribeTaskResult in FAILED, and the change is not made.
    #[serde(default)]
    pub fail_task: bool,
    /// Carry the call out first, then drop the connection or answer `code`: an ambiguous
    /// write, whose client cannot tell whether it happened (a timeout after sending).
    #[serde(default)]
    pub after_apply: bool,
}

impl Default for FaultRule {
    /// Matches every action, always, without an effect yet: set `code`, `latency_ms`, `drop`
    /// or `fail_task`.
    fn default() -> Self {
        Self {
            action: any_action(),
            code: None,
            message: None,
            rate: always(),
            count: None,
            latency_ms: 0,
            drop: false,
            fail_task: false,
            after_apply: false,
        }
    }
}

fn any_action() -> String {
    "*".to_string()
}

fn always() -> f64 {
    1.0
}

impl FaultRule {
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(format!("rate must be within 0..=1, not {}", self.rate));
        }
        if self.code.is_none() && !self.drop && !self.fail_task && self.latency_ms == 0 {
            return Err("a fault needs a code, latencyMs, drop or failTask".to_string());
        }
        if self.action.is_empty() {
            return Err("action must not be empty (use \"*\" for all)".to_string());
        }
        if self.after_apply && (self.fail_task || (self.code.is_none() && !self.drop)) {
            return Err("afterApply needs drop or a code, and no failTask".to_string());
        }
        Ok(())
    }
}

/// A rule with the id the admin API knows it by.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveFault {
    pub id: u64,
    #[serde(flatten)]
    pub rule: FaultRule,
}

/// What a fired rule does to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    /// The rule that fired. An `afterApply` rule is used up only once the call it hit has
    /// succeeded ([`Faults::consume`]): a call that fails by itself was not made ambiguous.
    pub rule_id: u64,
    pub latency_ms: u64,
    pub drop: bool,
    pub fail_task: bool,
    pub after_apply: bool,
    pub error: Option<ApiError>,
}

#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<ActiveFault>,
    next_id: u64,
}

impl Faults {
    pub fn new(rules: &[FaultRule]) -> Self {
        let mut faults = Self::default();
        for rule in rules {
            faults.add(rule.clone());
        }
        faults
    }

    pub fn add(&mut self, rule: FaultRule) -> u64 {
        self.next_id += 1;
        self.rules.push(ActiveFault {
            id: self.next_id,
            rule,
        });
        self.next_id
    }

    pub fn list(&self) -> Vec<ActiveFault> {
        self.rules.clone()
    }

    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|f| f.id != id);
        self.rules.len() != before
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The first rule for `action` that fires this time, used up by one if it has a count.
    pub fn fire(&mut self, action: &str) -> Option<Fired> {
        let mut rng = rand::rng();
        let index = self.rules.iter().position(|f| {
            (f.rule.action == "*" || f.rule.action == action)
                && f.rule.count != Some(0)
                && rng.random_bool(f.rule.rate)
        })?;
        let rule_id = self.rules[index].id;
        let rule = &mut self.rules[index].rule;
        let fired = Fired {
            rule_id,
            latency_ms: rule.latency_ms,
            drop: rule.drop,
            fail_task: rule.fail_task,
            after_apply: rule.after_apply,
            error: rule.code.clone().map(|code| {
                let message = rule
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("Fault injected by the emulator for {action}."));
                ApiError::new(code, message)
            }),
        };
        if !rule.after_apply {
            self.consume(rule_id);
        }
        Some(fired)
    }

    /// Uses the rule `id` up by one, if it has a count.
    pub fn consume(&mut self, id: u64) {
        let Some(index) = self.rules.iter().position(|f| f.id == id) else {
            return;
        };
        if let Some(count) = &mut self.rules[index].rule.count {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.rules.remove(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> FaultRule {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn counted_rules_run_out() {
        let mut faults = Faults::new(&[rule(
            r#"{"action":"CreateListener","code":"InternalError","count":2}"#,
        )]);
        assert!(faults.fire("DeleteListener").is_none());
        assert_eq!(
            faults.fire("CreateListener").unwrap().error.unwrap().code,
            "InternalError"
        );
        assert!(faults.fire("CreateListener").is_some());
        assert!(faults.fire("CreateListener").is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn rate_zero_never_fires_and_bad_rules_are_refused() {
        let mut faults = Faults::new(&[rule(r#"{"code":"InternalError","rate":0.0}"#)]);
        assert!((0..100).all(|_| faults.fire("X").is_none()));
        assert!(rule(r#"{"rate":0.5}"#).check().is_err());
        assert!(rule(r#"{"code":"X","rate":1.5}"#).check().is_err());
        assert!(serde_json::from_str::<FaultRule>(r#"{"code":"X","bogus":1}"#).is_err());
        assert!(
            rule(r#"{"afterApply":true,"latencyMs":5}"#)
                .check()
                .is_err()
        );
        assert!(
            rule(r#"{"afterApply":true,"drop":true,"failTask":true}"#)
                .check()
                .is_err()
        );
        assert!(rule(r#"{"afterApply":true,"drop":true}"#).check().is_ok());
        assert!(
            rule(r#"{"afterApply":true,"code":"InternalError"}"#)
                .check()
                .is_ok()
        );
    }
}
