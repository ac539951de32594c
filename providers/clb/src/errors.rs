//! From the cloud client's errors to [`ProviderError`]s, in the terms the controller acts on.
//!
//! The client has already retried throttled, busy and transient failures with backoff by the
//! time an error reaches here, so those become `Retryable` (the controller requeues), while
//! what a user must change becomes `UserFixable` with a condition reason.
use std::time::Duration;

use dac_provider_api::{FrontendProblem, ProviderError};
use dac_tencentcloud::{Error, ErrorKind};

/// Condition reasons: the shared ones, and the one this provider adds.
pub mod reason {
    pub use dac_provider_api::reason::*;

    /// A listener this cluster did not create holds the binding's port and protocol family on
    /// the CLB (made in the console, by another tool or by another cluster). It is never
    /// touched; the user frees the port or narrows the service's port range.
    pub const PORT_CONFLICT: &str = "PortConflict";
    /// The CLB is still being created (`Status` 0): no listener can be made on it yet.
    pub const LOAD_BALANCER_NOT_READY: &str = "LoadBalancerNotReady";
}

/// When a busy or throttled call is worth trying again: the instance lock of a CLB write
/// usually clears within a second or two.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Which call failed, because the same error code means different things for different calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// DescribeLoadBalancers / DescribeListeners / DescribeQuota: reads that name the CLB.
    Read,
    /// CreateListener; `custom_settings` when the binding carried a `CLBListenerConfig`, which
    /// is then the likely cause of an invalid-parameter answer.
    Create { custom_settings: bool },
    /// Batch(De)RegisterTargets, DescribeTargets.
    Targets,
    /// DeleteLoadBalancerListeners.
    Delete,
}

/// Maps a client error of a call on CLB `lb_id`.
pub(crate) fn map(err: &Error, stage: Stage, lb_id: &str) -> ProviderError {
    let text = err.to_string();
    if is_load_balancer_not_found(err, stage) {
        return ProviderError::user_fixable(
            reason::LOAD_BALANCER_NOT_FOUND,
            format!("CLB {lb_id} does not exist in this region: {text}"),
        );
    }
    match err.kind() {
        ErrorKind::Throttled | ErrorKind::Busy => {
            ProviderError::retry_after(text, BUSY_RETRY_AFTER)
        }
        ErrorKind::Transient => ProviderError::retryable(text),
        // A listener that vanished between our DescribeListeners and the write: the next
        // attempt looks again.
        ErrorKind::NotFound => ProviderError::retryable(text),
        ErrorKind::QuotaOrLimit => ProviderError::user_fixable(
            reason::LISTENER_QUOTA_EXCEEDED,
            format!("CLB {lb_id} has no listener quota left: {text}"),
        ),
        ErrorKind::Auth => ProviderError::permanent(text),
        ErrorKind::InvalidInput if err.code() == Some("InvalidParameter.PortCheckFailed") => {
            ProviderError::user_fixable(
                reason::PORT_CONFLICT,
                format!("the port is taken on CLB {lb_id}: {text}"),
            )
        }
        ErrorKind::InvalidInput
            if stage
                == (Stage::Create {
                    custom_settings: true,
                }) =>
        {
            ProviderError::user_fixable(reason::INVALID_LISTENER_CONFIG, text)
        }
        ErrorKind::InvalidInput => ProviderError::permanent(text),
        // A failed task changed nothing we can rely on; looking again and retrying is right.
        ErrorKind::Other if matches!(err, Error::TaskFailed { .. }) => {
            ProviderError::retryable(text)
        }
        ErrorKind::Other => ProviderError::permanent(text),
    }
}

fn is_load_balancer_not_found(err: &Error, stage: Stage) -> bool {
    is_load_balancer_gone(err)
        || stage == Stage::Read
            && err
                .code()
                .is_some_and(|c| c.starts_with("ResourceNotFound"))
}

/// Whether the cloud says the CLB itself does not exist. Besides the documented
/// `InvalidParameter.LBIdNotFound`, a write on a CLB deleted meanwhile may fail with a plain
/// code whose message says so: tke-extend-network-controller matches `LoadBalancer not exist`
/// and `LB not exist` in messages for that (`pkg/clb/error.go`, after real answers).
pub(crate) fn is_load_balancer_gone(err: &Error) -> bool {
    if err.code() == Some("InvalidParameter.LBIdNotFound") {
        return true;
    }
    let message = err.message().unwrap_or_default();
    message.contains("LoadBalancer not exist") || message.contains("LB not exist")
}

/// Whether DeleteLoadBalancerListeners (or another listener write) was refused because a
/// listener it names no longer exists: `InvalidParameter.ListenerIdNotFound`, or the plain
/// `InvalidParameter` with "some ListenerId ... not found" that tke-extend-network-controller
/// matches for DeleteLoadBalancerListeners (`pkg/clb/error.go`).
pub(crate) fn is_listener_gone(err: &Error) -> bool {
    match err.code() {
        Some("InvalidParameter.ListenerIdNotFound") => true,
        Some("InvalidParameter") => {
            let message = err.message().unwrap_or_default();
            message.contains("ListenerId") && message.contains("not found")
        }
        _ => false,
    }
}

/// Whether a refusal may be about the request's ids (a malformed or unknown one) rather than
/// about the account or the service: asking for each id alone then tells which.
pub(crate) fn about_the_request(err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound)
}

/// How a failed read about one CLB bears on it as a frontend: `Ok` with its problem when the
/// failure is about that CLB (it is gone, or cannot be read now), `Err` when it says nothing
/// about any CLB in particular (throttling that outlasted the retries, credentials), so that
/// the whole `frontends` call fails instead.
pub(crate) fn frontend_problem(
    err: &Error,
    lb_id: &str,
) -> std::result::Result<FrontendProblem, ProviderError> {
    if is_load_balancer_gone(err) {
        return Ok(FrontendProblem::gone(
            reason::LOAD_BALANCER_NOT_FOUND,
            format!("CLB {lb_id} does not exist in this region: {err}"),
        ));
    }
    match err.kind() {
        ErrorKind::Throttled | ErrorKind::Auth => Err(map(err, Stage::Read, lb_id)),
        _ => Ok(FrontendProblem::unavailable(
            reason::CLOUD_RETRYING,
            format!("reading CLB {lb_id} failed: {err}"),
        )),
    }
}

/// Whether a call the cloud refused as a whole may succeed for part of its items: then the
/// batch is split until the offending item is alone, so that only its binding fails.
pub(crate) fn worth_splitting(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::InvalidInput | ErrorKind::QuotaOrLimit | ErrorKind::NotFound
    ) && !is_load_balancer_gone(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dac_provider_api::reason as shared;

    fn api(code: &str) -> Error {
        Error::api("CreateListener", code, "msg", "req-1")
    }

    const CREATE: Stage = Stage::Create {
        custom_settings: false,
    };

    #[test]
    fn retryable_kinds_keep_a_hint_for_busy_and_throttled() {
        let busy = map(&api("FailedOperation.ResourceInOperating"), CREATE, "lb-1");
        assert!(busy.is_retryable());
        assert_eq!(busy.retry_after_hint(), Some(BUSY_RETRY_AFTER));
        let throttled = map(&api("RequestLimitExceeded"), CREATE, "lb-1");
        assert_eq!(throttled.retry_after_hint(), Some(BUSY_RETRY_AFTER));
        let internal = map(&api("InternalError"), CREATE, "lb-1");
        assert!(internal.is_retryable());
        assert_eq!(internal.retry_after_hint(), None);
        let failed_task = Error::TaskFailed {
            service: "clb",
            task_id: "t".into(),
            message: "failed".into(),
        };
        assert!(map(&failed_task, CREATE, "lb-1").is_retryable());
        let timeout = Error::TaskTimeout {
            service: "clb",
            task_id: "t".into(),
        };
        assert!(map(&timeout, Stage::Delete, "lb-1").is_retryable());
    }

    #[test]
    fn user_fixable_reasons() {
        let lb = map(&api("InvalidParameter.LBIdNotFound"), Stage::Read, "lb-x");
        assert_eq!(lb.reason(), shared::LOAD_BALANCER_NOT_FOUND);
        assert!(lb.message().contains("lb-x"));
        assert_eq!(
            map(&api("ResourceNotFound"), Stage::Read, "lb-x").reason(),
            shared::LOAD_BALANCER_NOT_FOUND
        );
        assert_eq!(
            map(&api("LimitExceeded"), CREATE, "lb-x").reason(),
            shared::LISTENER_QUOTA_EXCEEDED
        );
        assert_eq!(
            map(&api("InvalidParameter.PortCheckFailed"), CREATE, "lb-x").reason(),
            reason::PORT_CONFLICT
        );
        let settings = Stage::Create {
            custom_settings: true,
        };
        assert_eq!(
            map(&api("InvalidParameterValue"), settings, "lb-x").reason(),
            shared::INVALID_LISTENER_CONFIG
        );
    }

    #[test]
    fn permanent_and_stale_listener_cases() {
        let auth = map(&api("AuthFailure.SignatureFailure"), Stage::Read, "lb-1");
        assert!(matches!(auth, ProviderError::Permanent { .. }));
        let invalid = map(&api("InvalidParameter"), Stage::Targets, "lb-1");
        assert!(matches!(invalid, ProviderError::Permanent { .. }));
        let gone = map(
            &api("InvalidParameter.ListenerIdNotFound"),
            Stage::Delete,
            "lb-1",
        );
        assert!(gone.is_retryable());
        assert!(matches!(
            map(&api("FailedOperation"), Stage::Delete, "lb-1"),
            ProviderError::Permanent { .. }
        ));
    }

    #[test]
    fn a_deleted_clb_is_recognised_by_code_or_by_message() {
        let by_message = Error::api(
            "CreateListener",
            "InvalidParameter",
            "LoadBalancer not exist: lb-x",
            "r",
        );
        let short = Error::api("DeleteListener", "FailedOperation", "LB not exist", "r");
        for err in [&api("InvalidParameter.LBIdNotFound"), &by_message, &short] {
            assert!(is_load_balancer_gone(err), "{err}");
            let mapped = map(err, CREATE, "lb-x");
            assert_eq!(mapped.reason(), shared::LOAD_BALANCER_NOT_FOUND, "{err}");
            assert!(!worth_splitting(err));
            let problem = frontend_problem(err, "lb-x").unwrap();
            assert!(problem.gone);
        }
        assert!(!is_load_balancer_gone(&api("InvalidParameter")));
    }

    #[test]
    fn frontend_read_failures_are_about_the_frontend_unless_they_concern_everyone() {
        let internal = frontend_problem(&api("InternalError"), "lb-1").unwrap();
        assert!(!internal.gone);
        assert_eq!(internal.reason, shared::CLOUD_RETRYING);
        assert!(frontend_problem(&api("RequestLimitExceeded"), "lb-1").is_err());
        assert!(frontend_problem(&api("AuthFailure.SignatureFailure"), "lb-1").is_err());
    }

    #[test]
    fn gone_listeners_are_recognised_in_both_spellings() {
        let plain = Error::api(
            "DeleteLoadBalancerListeners",
            "InvalidParameter",
            "some ListenerId [\"lbl-1\"] not found",
            "r",
        );
        assert!(is_listener_gone(&plain));
        assert!(is_listener_gone(&api(
            "InvalidParameter.ListenerIdNotFound"
        )));
        assert!(!is_listener_gone(&api("InvalidParameter")));
        assert!(!is_listener_gone(&api("InvalidParameter.LBIdNotFound")));
    }

    #[test]
    fn splitting_is_for_item_specific_refusals() {
        assert!(worth_splitting(&api("InvalidParameter.PortCheckFailed")));
        assert!(worth_splitting(&api("LimitExceeded")));
        assert!(worth_splitting(&api("InvalidParameter.ListenerIdNotFound")));
        assert!(!worth_splitting(&api("InvalidParameter.LBIdNotFound")));
        assert!(!worth_splitting(&api("RequestLimitExceeded")));
        assert!(!worth_splitting(&api("AuthFailure")));
    }
}
