//! From the cloud client's errors to [`ProviderError`]s, in the terms the controller acts on.
//!
//! The client has already retried throttled, busy and transient failures with backoff by the
//! time an error reaches here, so those become `Retryable` (the controller requeues), while
//! what a user must change becomes `UserFixable` with a condition reason.
use std::time::Duration;

use dac_provider_api::ProviderError;
use dac_tencentcloud::{Error, ErrorKind};

/// Condition reasons: the shared ones, and the one this provider adds.
pub mod reason {
    pub use dac_provider_api::reason::*;

    /// A listener this cluster did not create holds the binding's port and protocol family on
    /// the CLB (made in the console, by another tool or by another cluster). It is never
    /// touched; the user frees the port or narrows the service's port range.
    pub const PORT_CONFLICT: &str = "PortConflict";
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
    match err.kind() {
        ErrorKind::Throttled | ErrorKind::Busy => {
            ProviderError::retry_after(text, BUSY_RETRY_AFTER)
        }
        ErrorKind::Transient => ProviderError::retryable(text),
        ErrorKind::NotFound if is_load_balancer_not_found(err, stage) => {
            ProviderError::user_fixable(
                reason::LOAD_BALANCER_NOT_FOUND,
                format!("CLB {lb_id} does not exist in this region: {text}"),
            )
        }
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
    match err.code() {
        Some("InvalidParameter.LBIdNotFound") => true,
        Some(code) => stage == Stage::Read && code.starts_with("ResourceNotFound"),
        None => false,
    }
}

/// Whether a call the cloud refused as a whole may succeed for part of its items: then the
/// batch is split until the offending item is alone, so that only its binding fails.
pub(crate) fn worth_splitting(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::InvalidInput | ErrorKind::QuotaOrLimit | ErrorKind::NotFound
    ) && err.code() != Some("InvalidParameter.LBIdNotFound")
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
    fn splitting_is_for_item_specific_refusals() {
        assert!(worth_splitting(&api("InvalidParameter.PortCheckFailed")));
        assert!(worth_splitting(&api("LimitExceeded")));
        assert!(worth_splitting(&api("InvalidParameter.ListenerIdNotFound")));
        assert!(!worth_splitting(&api("InvalidParameter.LBIdNotFound")));
        assert!(!worth_splitting(&api("RequestLimitExceeded")));
        assert!(!worth_splitting(&api("AuthFailure")));
    }
}
