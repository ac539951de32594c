//! Provider errors, typed by what the controller should do about them.
use std::time::Duration;

pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

/// Why a provider call failed, in the terms the controller acts on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth trying again: throttling, an instance locked by another task, a timeout, a 5xx.
    /// `retry_after` is the cloud's hint, if it gave one; otherwise the controller backs off.
    #[error("temporary failure: {message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way until the controller or the provider changes: a bug, a
    /// misconfigured provider, an answer the provider does not understand.
    #[error("{message}")]
    Permanent { message: String },
    /// Will fail the same way until the user changes something; shown on the resource as a
    /// condition with this `reason` (CamelCase, see [`reason`]) and an Event with `message`.
    #[error("{reason}: {message}")]
    UserFixable { reason: String, message: String },
}

impl ProviderError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(message: impl Into<String>, after: Duration) -> Self {
        Self::Retryable {
            message: message.into(),
            retry_after: Some(after),
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            message: message.into(),
        }
    }

    /// `reason` must be CamelCase, as Kubernetes condition reasons are (e.g.
    /// [`reason::PORTS_EXHAUSTED`]).
    pub fn user_fixable(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self::UserFixable {
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// The cloud's hint for when to try again, if any.
    pub fn retry_after_hint(&self) -> Option<Duration> {
        match self {
            Self::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The condition reason to show for this error.
    pub fn reason(&self) -> &str {
        match self {
            Self::Retryable { .. } => reason::CLOUD_RETRYING,
            Self::Permanent { .. } => reason::PROVIDER_FAILED,
            Self::UserFixable { reason, .. } => reason,
        }
    }

    /// The human-readable part, without the reason.
    pub fn message(&self) -> &str {
        match self {
            Self::Retryable { message, .. }
            | Self::Permanent { message }
            | Self::UserFixable { message, .. } => message,
        }
    }
}

/// Condition reasons that providers and the controller share. Custom providers may use their own
/// (CamelCase) reasons too.
pub mod reason {
    /// No free (frontend, port, protocol) slot is left for a Pod port.
    pub const PORTS_EXHAUSTED: &str = "PortsExhausted";
    /// A CLB has no listener quota left.
    pub const LISTENER_QUOTA_EXCEEDED: &str = "ListenerQuotaExceeded";
    /// A NAT gateway has reached its DNAT rule limit.
    pub const RULE_LIMIT_EXCEEDED: &str = "RuleLimitExceeded";
    /// The account's EIP quota or daily allocation limit is reached.
    pub const EIP_QUOTA_EXCEEDED: &str = "EIPQuotaExceeded";
    /// A CLB named in `existedLbIds` / `lbId` does not exist in the region.
    pub const LOAD_BALANCER_NOT_FOUND: &str = "LoadBalancerNotFound";
    /// A NAT gateway named in the config or the resource does not exist in the region.
    pub const NAT_GATEWAY_NOT_FOUND: &str = "NatGatewayNotFound";
    /// A NAT gateway exists but is not in state AVAILABLE.
    pub const NAT_GATEWAY_NOT_AVAILABLE: &str = "NatGatewayNotAvailable";
    /// The Pod's IP is not a VPC IP, so nothing in the cloud can forward to it; the fix is to
    /// give the Pod an ENI IP (`tke.cloud.tencent.com/networks: tke-route-eni`).
    pub const POD_IP_NOT_IN_VPC: &str = "PodIPNotInVPC";
    /// The referenced `CLBListenerConfig` is missing or rejected by the cloud.
    pub const INVALID_LISTENER_CONFIG: &str = "InvalidListenerConfig";
    /// A [`Retryable`](super::ProviderError::Retryable) error is being retried.
    pub const CLOUD_RETRYING: &str = "CloudRetrying";
    /// A [`Permanent`](super::ProviderError::Permanent) error.
    pub const PROVIDER_FAILED: &str = "ProviderFailed";
    /// The resource asks for something this provider (or this controller) cannot do.
    pub const UNSUPPORTED: &str = "Unsupported";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_what_the_controller_acts_on() {
        let exhausted = ProviderError::user_fixable(reason::RULE_LIMIT_EXCEEDED, "nat-1 is full");
        assert_eq!(exhausted.reason(), "RuleLimitExceeded");
        assert_eq!(exhausted.message(), "nat-1 is full");
        assert_eq!(exhausted.to_string(), "RuleLimitExceeded: nat-1 is full");
        assert!(!exhausted.is_retryable());

        let locked = ProviderError::retry_after("instance locked", Duration::from_millis(500));
        assert!(locked.is_retryable());
        assert_eq!(locked.retry_after_hint(), Some(Duration::from_millis(500)));
        assert_eq!(locked.reason(), reason::CLOUD_RETRYING);

        assert_eq!(
            ProviderError::permanent("bad answer").reason(),
            reason::PROVIDER_FAILED
        );
        assert_eq!(ProviderError::retryable("x").retry_after_hint(), None);
    }
}
