//! Batched calls that isolate the item the cloud refuses.
//!
//! Create/Delete take an array of rules and fail as a whole when one rule is wrong (its slot is
//! taken, its Pod IP is not in the VPC, it is one rule beyond the limit). Splitting a refused
//! chunk in halves until the culprit is alone lets every other rule through at a cost of about
//! 2·log2(n) extra calls per bad rule, instead of one call per rule for everyone.
//!
//! The splitting is shared with the clb provider ([`dac_provider_support::split`]); which
//! refusals are worth splitting, and that the rule limit refuses the rest, are the VPC API's
//! and stay here.
use std::future::Future;

use dac_provider_support::split::{self, Refusals};
use dac_tencentcloud::Error;

use crate::errors;

/// How the VPC API's refusals of a batch of DNAT rules read.
struct NatgwRefusals;

impl Refusals<Error> for NatgwRefusals {
    fn worth_splitting(&self, err: &Error) -> bool {
        errors::worth_splitting(err)
    }

    /// Not even one more rule fits: the rest of the batch would be refused the same way, so it
    /// gets the same answer without costing a call each.
    fn refusal_for_the_rest(&self, err: &Error) -> Option<Error> {
        errors::is_limit(err).then(|| errors::same_error(err))
    }
}

/// Calls `call` on `items` in chunks of at most `max`; a chunk refused for reasons that may
/// concern one item only ([`errors::worth_splitting`]) is halved and tried again, down to
/// single items; once the rule limit refuses one, the rest get the same error without a call.
/// Returns each final chunk with its outcome.
///
/// `call` builds its request from the borrowed chunk before it awaits, so the future it returns
/// owns what it needs and the chunk need not be cloned.
pub(crate) async fn split_calls<T, F, Fut>(
    items: Vec<T>,
    max: usize,
    call: F,
) -> Vec<(Vec<T>, Result<(), Error>)>
where
    F: FnMut(&[T]) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    split::split_calls(items, max, &NatgwRefusals, call).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn isolates_the_refused_item_and_keeps_order() {
        let mut calls: Vec<Vec<u32>> = Vec::new();
        let out = split_calls((1..=10).collect(), 4, |chunk: &[u32]| {
            calls.push(chunk.to_vec());
            let bad = chunk.contains(&6);
            async move {
                if bad {
                    Err(Error::api(
                        "CreateNatGatewayDestinationIpPortTranslationNatRule",
                        "InvalidParameterValue.NatGatewayDnatRulePipNeedVm",
                        "not a VM",
                        "r",
                    ))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        let order: Vec<u32> = out.iter().flat_map(|(c, _)| c.clone()).collect();
        assert_eq!(order, (1..=10).collect::<Vec<_>>());
        let failed: Vec<&Vec<u32>> = out
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(c, _)| c)
            .collect();
        assert_eq!(failed, [&vec![6]]);
        // [1-4], [5-8] refused, [5,6] refused, [5], [6], [7,8], [9,10].
        assert_eq!(calls.len(), 7, "{calls:?}");
    }

    #[tokio::test]
    async fn once_one_item_is_over_the_limit_the_rest_are_too() {
        let mut calls: Vec<Vec<u32>> = Vec::new();
        let room = 5;
        let mut used = 0;
        let out = split_calls((1..=8).collect(), 100, |chunk: &[u32]| {
            calls.push(chunk.to_vec());
            let fits = used + chunk.len() <= room;
            if fits {
                used += chunk.len();
            }
            async move {
                if fits {
                    Ok(())
                } else {
                    Err(Error::api(
                        "CreateNatGatewayDestinationIpPortTranslationNatRule",
                        "LimitExceeded.NatGatewayDnatLimitExceeded",
                        "full",
                        "r",
                    ))
                }
            }
        })
        .await;
        let ok: Vec<u32> = out
            .iter()
            .filter(|(_, r)| r.is_ok())
            .flat_map(|(c, _)| c.clone())
            .collect();
        assert_eq!(ok, [1, 2, 3, 4, 5]);
        let refused: Vec<u32> = out
            .iter()
            .filter(|(_, r)| r.is_err())
            .flat_map(|(c, _)| c.clone())
            .collect();
        assert_eq!(refused.len(), 3);
        for (_, r) in &out {
            if let Err(err) = r {
                assert_eq!(
                    err.code(),
                    Some("LimitExceeded.NatGatewayDnatLimitExceeded")
                );
            }
        }
        // [1-8], [1-4], [5-8], [5,6], [5], [6]; then [7,8] without a call.
        assert_eq!(calls.len(), 6, "{calls:?}");
    }

    #[tokio::test]
    async fn does_not_split_what_concerns_everyone() {
        let mut n = 0;
        let out = split_calls((1..=10).collect::<Vec<u32>>(), 100, |_: &[u32]| {
            n += 1;
            async {
                Err(Error::api(
                    "CreateNatGatewayDestinationIpPortTranslationNatRule",
                    "ResourceNotFound",
                    "no such gateway",
                    "r",
                ))
            }
        })
        .await;
        assert_eq!(n, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.len(), 10);
    }
}
