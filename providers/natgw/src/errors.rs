//! From the cloud client's errors to [`ProviderError`]s, in the terms the controller acts on.
//!
//! The client has already retried throttled and busy answers (`UnsupportedOperation.NatGatewayIsBusy`,
//! `OperationDenied.MutexTaskRunning`) and transient failures with backoff by the time an error
//! gets here, so those become `Retryable`; what a user must change becomes `UserFixable` with a
//! condition reason.
use std::time::Duration;

use dac_provider_api::{FrontendProblem, ProviderError};
use dac_tencentcloud::{Error, ErrorKind};

/// Condition reasons: the shared ones, and those this provider adds.
pub mod reason {
    pub use dac_provider_api::reason::*;

    /// A DNAT rule this cluster did not create holds the binding's EIP, port and protocol
    /// (made in the console, by another tool or by another cluster). It is never touched; the
    /// user frees the port or narrows the gateway's port range. Same word as the clb provider's.
    pub const PORT_CONFLICT: &str = "PortConflict";
    /// A binding or resource names a NAT gateway that is not in the provider's configuration.
    pub const NAT_GATEWAY_NOT_CONFIGURED: &str = "NatGatewayNotConfigured";
    /// A binding's or the configuration's EIP is not (or no longer) bound to the gateway.
    pub const EIP_NOT_ON_NAT_GATEWAY: &str = "EipNotOnNatGateway";
    /// Another DNAT rule not made by this cluster already forwards to the Pod's IP and port
    /// (`UnsupportedOperation.NatGatewayRulePipExists`).
    pub const PRIVATE_ADDRESS_IN_USE: &str = "PrivateAddressInUse";
}

/// When a busy or throttled call is worth trying again; the client has already waited out
/// several seconds of backoff, so the gateway's lock is usually gone by then.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

pub(crate) const RULE_EXISTED: &str = "InvalidParameterValue.NatGatewayDnatRuleExisted";
pub(crate) const RULE_REPEATED: &str = "InvalidParameterValue.NatGatewayDnatRuleRepeated";
pub(crate) const RULE_NOT_EXISTS: &str = "InvalidParameterValue.NatGatewayDnatRuleNotExists";
pub(crate) const PIP_NEED_VM: &str = "InvalidParameterValue.NatGatewayDnatRulePipNeedVm";
pub(crate) const PIP_EXISTS: &str = "UnsupportedOperation.NatGatewayRulePipExists";
const EIP_NOT_EXISTS: &str = "UnsupportedOperation.NatGatewayEipNotExists";
const GATEWAY_RESTRICTED: &str = "UnsupportedOperation.NatGatewayRestricted";

/// Which call failed: a `ResourceNotFound` on a describe or create means the gateway, on a
/// delete it means "already gone".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Read,
    Write,
}

/// Whether a create was refused because its slot is already taken.
pub(crate) fn is_slot_taken(err: &Error) -> bool {
    matches!(err.code(), Some(RULE_EXISTED | RULE_REPEATED))
}

/// Whether a write was refused because the gateway holds as many rules as it may.
pub(crate) fn is_limit(err: &Error) -> bool {
    err.kind() == ErrorKind::QuotaOrLimit
}

/// A copy of an API error, for items refused for the same reason without their own call (the
/// client's error is not `Clone`: it may carry a transport error).
pub(crate) fn same_error(err: &Error) -> Error {
    match err {
        Error::Api {
            action,
            code,
            message,
            request_id,
            ..
        } => Error::api(
            action.clone(),
            code.clone(),
            message.clone(),
            request_id.clone(),
        ),
        other => Error::InvalidRequest(other.to_string()),
    }
}

/// Whether the gateway itself does not exist.
pub(crate) fn is_gateway_not_found(err: &Error) -> bool {
    err.code()
        .is_some_and(|c| c == "ResourceNotFound" || c.starts_with("ResourceNotFound."))
}

/// Maps a client error of a call on gateway `gateway`.
pub(crate) fn map(err: &Error, stage: Stage, gateway: &str) -> ProviderError {
    let text = err.to_string();
    match (err.kind(), err.code().unwrap_or_default()) {
        (ErrorKind::Throttled | ErrorKind::Busy, _) => {
            ProviderError::retry_after(text, BUSY_RETRY_AFTER)
        }
        (ErrorKind::Transient, _) => ProviderError::retryable(text),
        (_, PIP_NEED_VM) => ProviderError::user_fixable(
            reason::POD_IP_NOT_IN_VPC,
            format!("the Pod IP is not a VM NIC IP in the VPC of NAT gateway {gateway}: {text}"),
        ),
        (_, EIP_NOT_EXISTS) => ProviderError::user_fixable(
            reason::EIP_NOT_ON_NAT_GATEWAY,
            format!("the EIP is not bound to NAT gateway {gateway}: {text}"),
        ),
        (_, GATEWAY_RESTRICTED) => ProviderError::user_fixable(
            reason::NAT_GATEWAY_NOT_AVAILABLE,
            format!("NAT gateway {gateway} is restricted: {text}"),
        ),
        (_, PIP_EXISTS) => ProviderError::user_fixable(
            reason::PRIVATE_ADDRESS_IN_USE,
            format!("another rule on NAT gateway {gateway} forwards to this Pod address: {text}"),
        ),
        (_, RULE_EXISTED | RULE_REPEATED) => ProviderError::user_fixable(
            reason::PORT_CONFLICT,
            format!("the public port is taken on NAT gateway {gateway}: {text}"),
        ),
        // The rule went away between our describe and the write: the next attempt looks again.
        (_, RULE_NOT_EXISTS) => ProviderError::retryable(text),
        _ if is_gateway_not_found(err)
            || stage == Stage::Read && err.kind() == ErrorKind::NotFound =>
        {
            ProviderError::user_fixable(
                reason::NAT_GATEWAY_NOT_FOUND,
                format!("NAT gateway {gateway} does not exist in this region: {text}"),
            )
        }
        (ErrorKind::QuotaOrLimit, _) => ProviderError::user_fixable(
            reason::RULE_LIMIT_EXCEEDED,
            format!("NAT gateway {gateway} has no DNAT rules left: {text}"),
        ),
        (ErrorKind::NotFound, _) => ProviderError::retryable(text),
        _ => ProviderError::permanent(text),
    }
}

/// How a failed read about one gateway bears on it as a frontend: `Ok` with its problem when
/// the failure is about that gateway (it is gone, or cannot be read now), `Err` when it says
/// nothing about any gateway in particular (throttling that outlasted the retries,
/// credentials), so that the whole `frontends` call fails instead.
pub(crate) fn frontend_problem(
    err: &Error,
    gateway: &str,
) -> std::result::Result<FrontendProblem, ProviderError> {
    if is_gateway_not_found(err) {
        return Ok(FrontendProblem::gone(
            reason::NAT_GATEWAY_NOT_FOUND,
            format!("NAT gateway {gateway} does not exist in this region: {err}"),
        ));
    }
    match err.kind() {
        ErrorKind::Throttled | ErrorKind::Auth => Err(map(err, Stage::Read, gateway)),
        _ => Ok(FrontendProblem::unavailable(
            reason::CLOUD_RETRYING,
            format!("reading NAT gateway {gateway} failed: {err}"),
        )),
    }
}

/// Whether a call the cloud refused as a whole may succeed for part of its rules: then the
/// batch is split until the offending rule is alone, so that only its binding fails. Not for
/// errors that concern the gateway or the account (missing gateway, throttling, credentials).
pub(crate) fn worth_splitting(err: &Error) -> bool {
    let per_rule = matches!(
        err.kind(),
        ErrorKind::InvalidInput | ErrorKind::QuotaOrLimit | ErrorKind::NotFound
    ) || err.code() == Some(PIP_EXISTS);
    per_rule && !is_gateway_not_found(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> Error {
        Error::api(
            "CreateNatGatewayDestinationIpPortTranslationNatRule",
            code,
            "msg",
            "req-1",
        )
    }

    #[test]
    fn user_fixable_reasons() {
        let cases = [
            (
                "LimitExceeded.NatGatewayDnatLimitExceeded",
                reason::RULE_LIMIT_EXCEEDED,
            ),
            (PIP_NEED_VM, reason::POD_IP_NOT_IN_VPC),
            (EIP_NOT_EXISTS, reason::EIP_NOT_ON_NAT_GATEWAY),
            (RULE_EXISTED, reason::PORT_CONFLICT),
            (RULE_REPEATED, reason::PORT_CONFLICT),
            (PIP_EXISTS, reason::PRIVATE_ADDRESS_IN_USE),
            ("ResourceNotFound", reason::NAT_GATEWAY_NOT_FOUND),
            (GATEWAY_RESTRICTED, reason::NAT_GATEWAY_NOT_AVAILABLE),
        ];
        for (code, want) in cases {
            let err = map(&api(code), Stage::Write, "nat-1");
            assert_eq!(err.reason(), want, "{code}");
            assert!(err.message().contains("nat-1"), "{err}");
        }
    }

    #[test]
    fn retryable_and_permanent() {
        for code in [
            "UnsupportedOperation.NatGatewayIsBusy",
            "OperationDenied.MutexTaskRunning",
            "RequestLimitExceeded",
        ] {
            let err = map(&api(code), Stage::Write, "nat-1");
            assert_eq!(err.retry_after_hint(), Some(BUSY_RETRY_AFTER), "{code}");
        }
        assert!(map(&api("InternalError"), Stage::Write, "nat-1").is_retryable());
        assert!(map(&api(RULE_NOT_EXISTS), Stage::Write, "nat-1").is_retryable());
        for code in [
            "AuthFailure.SignatureFailure",
            "InvalidParameter",
            "FailedOperation",
        ] {
            let err = map(&api(code), Stage::Write, "nat-1");
            assert!(matches!(err, ProviderError::Permanent { .. }), "{code}");
        }
    }

    #[test]
    fn splitting_is_for_rule_specific_refusals() {
        for code in [
            RULE_EXISTED,
            PIP_NEED_VM,
            EIP_NOT_EXISTS,
            PIP_EXISTS,
            "LimitExceeded.NatGatewayDnatLimitExceeded",
            RULE_NOT_EXISTS,
        ] {
            assert!(worth_splitting(&api(code)), "{code}");
        }
        for code in [
            "ResourceNotFound",
            "RequestLimitExceeded",
            "AuthFailure",
            "InternalError",
            "FailedOperation",
            GATEWAY_RESTRICTED,
        ] {
            assert!(!worth_splitting(&api(code)), "{code}");
        }
    }

    #[test]
    fn frontend_read_failures_are_about_the_gateway_unless_they_concern_everyone() {
        let gone = frontend_problem(&api("ResourceNotFound"), "nat-1").unwrap();
        assert!(gone.gone);
        assert_eq!(gone.reason, reason::NAT_GATEWAY_NOT_FOUND);
        let internal = frontend_problem(&api("InternalError"), "nat-1").unwrap();
        assert!(!internal.gone);
        assert!(frontend_problem(&api("RequestLimitExceeded"), "nat-1").is_err());
        assert!(frontend_problem(&api("AuthFailure"), "nat-1").is_err());
    }

    #[test]
    fn slot_taken_and_gateway_missing_are_recognised() {
        assert!(is_slot_taken(&api(RULE_EXISTED)));
        assert!(!is_slot_taken(&api(PIP_NEED_VM)));
        assert!(is_gateway_not_found(&api("ResourceNotFound")));
        assert!(!is_gateway_not_found(&api(RULE_NOT_EXISTS)));
    }
}
