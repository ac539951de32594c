//! Setting `status.conditions` the Kubernetes way: one condition per type, and
//! `lastTransitionTime` moves only when the status does, so that it tells users how long
//! something has been true (or broken), not when the controller last looked.
use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};

/// Condition types the controller sets.
pub mod types {
    /// Service: every Pod port is bound. Listener: the address is bound to its Pod.
    pub const READY: &str = "Ready";
    /// Service: every frontend it names can take slots (`False` names the ones that cannot).
    pub const FRONTENDS_AVAILABLE: &str = "FrontendsAvailable";
}

/// Condition reasons the controller itself sets; providers' reasons are in
/// [`dac_provider_api::reason`].
pub mod reasons {
    pub const BOUND: &str = "Bound";
    pub const PROGRESSING: &str = "Progressing";
    /// `spec.provider` names a provider that is not enabled in this controller.
    pub const PROVIDER_NOT_ENABLED: &str = "ProviderNotEnabled";
    /// A frontend the resource names is outside the admin's allow-list (`access.frontends`).
    pub const FRONTEND_NOT_ALLOWED: &str = "FrontendNotAllowed";
    /// Every frontend the resource names can take slots.
    pub const AVAILABLE: &str = "Available";
    pub use dac_provider_api::reason::*;
}

/// The status of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

impl From<bool> for ConditionStatus {
    fn from(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

/// What a condition should say now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCondition<'a> {
    pub type_: &'a str,
    pub status: ConditionStatus,
    /// CamelCase.
    pub reason: &'a str,
    pub message: String,
    /// The `metadata.generation` it was computed from.
    pub observed_generation: Option<i64>,
}

/// Sets the condition of `new.type_` in `conditions` and reports whether anything changed (so
/// the caller can skip a status patch). `lastTransitionTime` becomes `now` only when the
/// condition is new or its status changes.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    new: NewCondition<'_>,
    now: Timestamp,
) -> bool {
    let status = new.status.as_str();
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            let unchanged = existing.status == status
                && existing.reason == new.reason
                && existing.message == new.message
                && existing.observed_generation == new.observed_generation;
            if unchanged {
                return false;
            }
            if existing.status != status {
                existing.last_transition_time = Time(now);
                existing.status = status.to_string();
            }
            existing.reason = new.reason.to_string();
            existing.message = new.message;
            existing.observed_generation = new.observed_generation;
            true
        }
        None => {
            conditions.push(Condition {
                type_: new.type_.to_string(),
                status: status.to_string(),
                reason: new.reason.to_string(),
                message: new.message,
                observed_generation: new.observed_generation,
                last_transition_time: Time(now),
            });
            true
        }
    }
}

/// The condition of `type_`, if set.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of `type_` is set and `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Removes the condition of `type_`; reports whether it was there.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn ready(status: bool, reason: &'static str, message: &str) -> NewCondition<'static> {
        NewCondition {
            type_: types::READY,
            status: status.into(),
            reason,
            message: message.to_string(),
            observed_generation: Some(1),
        }
    }

    #[test]
    fn a_new_condition_is_added_with_now() {
        let mut conditions = vec![];
        assert!(set_condition(
            &mut conditions,
            ready(false, reasons::PROGRESSING, "binding"),
            at(0)
        ));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].status, "False");
        assert_eq!(conditions[0].last_transition_time, Time(at(0)));
    }

    #[test]
    fn the_transition_time_moves_only_when_the_status_changes() {
        let mut conditions = vec![];
        set_condition(
            &mut conditions,
            ready(false, reasons::PROGRESSING, "binding"),
            at(0),
        );

        // Same status, new reason and message: updated, but the transition time stays.
        assert!(set_condition(
            &mut conditions,
            ready(false, reasons::PORTS_EXHAUSTED, "no free port in 501-502"),
            at(10)
        ));
        assert_eq!(conditions[0].reason, "PortsExhausted");
        assert_eq!(conditions[0].last_transition_time, Time(at(0)));

        // Nothing new: nothing changes, not even the time.
        assert!(!set_condition(
            &mut conditions,
            ready(false, reasons::PORTS_EXHAUSTED, "no free port in 501-502"),
            at(20)
        ));

        // The status flips: now the transition time moves.
        assert!(set_condition(
            &mut conditions,
            ready(true, reasons::BOUND, "2/2 bound"),
            at(30)
        ));
        assert_eq!(conditions[0].last_transition_time, Time(at(30)));
        assert!(is_true(&conditions, types::READY));
        assert_eq!(conditions.len(), 1);
    }

    #[test]
    fn a_new_generation_alone_updates_the_condition() {
        let mut conditions = vec![];
        set_condition(&mut conditions, ready(true, reasons::BOUND, "ok"), at(0));
        let mut newer = ready(true, reasons::BOUND, "ok");
        newer.observed_generation = Some(2);
        assert!(set_condition(&mut conditions, newer, at(5)));
        assert_eq!(conditions[0].observed_generation, Some(2));
        assert_eq!(conditions[0].last_transition_time, Time(at(0)));
    }

    #[test]
    fn conditions_are_found_and_removed_by_type() {
        let mut conditions = vec![];
        set_condition(&mut conditions, ready(true, reasons::BOUND, "ok"), at(0));
        assert!(find_condition(&conditions, "Other").is_none());
        assert!(!remove_condition(&mut conditions, "Other"));
        assert!(remove_condition(&mut conditions, types::READY));
        assert!(conditions.is_empty());
        assert!(!is_true(&conditions, types::READY));
    }
}
