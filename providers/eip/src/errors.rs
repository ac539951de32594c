//! From the cloud client's errors to [`ProviderError`]s.
//!
//! The client has already retried throttled, busy and transient failures by the time an error
//! gets here, so those become `Retryable` (the controller requeues with backoff); quota errors
//! become `UserFixable` `EIPQuotaExceeded`, which the controller shows as a condition and an
//! Event and looks at again only after a minute: never a hot loop.
use std::time::Duration;

use dac_provider_api::ProviderError;
use dac_tencentcloud::{Error, ErrorKind};

/// Condition reasons: the shared ones, and the ones this provider adds.
pub mod reason {
    pub use dac_provider_api::reason::*;

    /// The Pod's IP already has an EIP that this cluster did not allocate (bound by hand or by
    /// another tool). It is never touched; the user unbinds it.
    pub const POD_IP_HAS_OTHER_EIP: &str = "PodIPHasOtherEIP";
    /// The resource's `eip` options cannot be read.
    pub const INVALID_EIP_OPTIONS: &str = "InvalidEIPOptions";
}

/// When a busy EIP (a task running on it) or a throttled call is worth trying again.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Which call failed: the same code means different things for different calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// DescribeAddresses, DescribeNetworkInterfaces, DescribeAddressQuota.
    Read,
    Allocate,
    Associate,
    Disassociate,
    Release,
    /// ModifyAddressAttribute (the name that says who holds an EIP).
    Rename,
}

/// Maps a client error of a call at `stage`.
pub(crate) fn map(err: &Error, stage: Stage) -> ProviderError {
    let text = err.to_string();
    match err.kind() {
        ErrorKind::Throttled | ErrorKind::Busy => {
            ProviderError::retry_after(text, BUSY_RETRY_AFTER)
        }
        ErrorKind::Transient => ProviderError::retryable(text),
        ErrorKind::QuotaOrLimit if stage == Stage::Allocate => {
            quota_exceeded(format!("the account cannot allocate another EIP: {text}"))
        }
        // An EIP or ENI that vanished between our read and the write: the next attempt reads
        // again and finds another way.
        ErrorKind::NotFound => ProviderError::retryable(text),
        // The EIP's status changed under us (a task of someone else's, or one of ours that
        // outlived its deadline): read again and retry.
        _ if is_status_conflict(err) => ProviderError::retry_after(text, BUSY_RETRY_AFTER),
        // A failed task changed nothing we can rely on; reading again and retrying is right.
        ErrorKind::Other if matches!(err, Error::TaskFailed { .. }) => {
            ProviderError::retryable(text)
        }
        ErrorKind::QuotaOrLimit | ErrorKind::Auth | ErrorKind::InvalidInput | ErrorKind::Other => {
            ProviderError::permanent(text)
        }
    }
}

/// The codes the official Go SDK lists for "the EIP's status does not allow this": which one
/// comes depends on the action (`UnsupportedOperation.AddressStatusNotPermit` on Associate,
/// Disassociate, Release and ModifyAddressAttribute; `InvalidAddressState` on Release;
/// `InvalidAddressIdStatus.NotPermit` on Disassociate). All of them pass once the status
/// settles, so all are worth another try after reading the EIP again, never permanent.
pub(crate) const STATUS_CONFLICTS: [&str; 3] = [
    "UnsupportedOperation.AddressStatusNotPermit",
    "InvalidAddressState",
    "InvalidAddressIdStatus.NotPermit",
];

/// Whether the EIP's status refused the call (see [`STATUS_CONFLICTS`]).
pub(crate) fn is_status_conflict(err: &Error) -> bool {
    err.code().is_some_and(|c| STATUS_CONFLICTS.contains(&c))
}

/// The user-fixable quota error, from our own quota check or from the cloud.
pub(crate) fn quota_exceeded(message: String) -> ProviderError {
    ProviderError::user_fixable(reason::EIP_QUOTA_EXCEEDED, message)
}

/// The private IP already carries an EIP (AssociateAddress).
pub(crate) fn is_ip_taken(err: &Error) -> bool {
    err.code() == Some("InvalidPrivateIpAddress.AlreadyBindEip")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> Error {
        Error::api("X", code, "msg", "req-1")
    }

    #[test]
    fn quota_errors_of_allocate_are_user_fixable() {
        for code in [
            "AddressQuotaLimitExceeded",
            "AddressQuotaLimitExceeded.DailyAllocate",
        ] {
            let err = map(&api(code), Stage::Allocate);
            assert_eq!(err.reason(), reason::EIP_QUOTA_EXCEEDED, "{code}");
            assert!(!err.is_retryable());
        }
        // A limit met by a read (too many filters) is our bug, not the user's quota.
        assert!(matches!(
            map(&api("LimitExceeded.NumberOfFilters"), Stage::Read),
            ProviderError::Permanent { .. }
        ));
    }

    #[test]
    fn busy_gone_and_failed_tasks_retry() {
        let busy = map(&api("OperationDenied.MutexTaskRunning"), Stage::Associate);
        assert_eq!(busy.retry_after_hint(), Some(BUSY_RETRY_AFTER));
        assert!(map(&api("InvalidAddressId.NotFound"), Stage::Release).is_retryable());
        assert!(map(&api("InvalidNetworkInterfaceId.NotFound"), Stage::Associate).is_retryable());
        for (code, stage) in [
            ("InvalidAddressIdStatus.NotPermit", Stage::Disassociate),
            (
                "UnsupportedOperation.AddressStatusNotPermit",
                Stage::Associate,
            ),
            (
                "UnsupportedOperation.AddressStatusNotPermit",
                Stage::Release,
            ),
            ("InvalidAddressState", Stage::Release),
        ] {
            let status = map(&api(code), stage);
            assert_eq!(status.retry_after_hint(), Some(BUSY_RETRY_AFTER), "{code}");
        }
        let failed = Error::TaskFailed {
            service: "vpc",
            task_id: "1".into(),
            message: "FAILED".into(),
        };
        assert!(map(&failed, Stage::Allocate).is_retryable());
        assert!(map(&api("InternalError"), Stage::Read).is_retryable());
    }

    #[test]
    fn the_rest_is_permanent() {
        for code in [
            "AuthFailure.SignatureFailure",
            "InvalidParameter",
            "FailedOperation",
        ] {
            assert!(
                matches!(
                    map(&api(code), Stage::Associate),
                    ProviderError::Permanent { .. }
                ),
                "{code}"
            );
        }
        assert!(is_ip_taken(&api("InvalidPrivateIpAddress.AlreadyBindEip")));
        assert!(!is_ip_taken(&api("InvalidParameter")));
    }
}
