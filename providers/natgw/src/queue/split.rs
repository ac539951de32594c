//! Batched calls that isolate the item the cloud refuses.
//!
//! Create/Delete take an array of rules and fail as a whole when one rule is wrong (its slot is
//! taken, its Pod IP is not in the VPC, it is one rule beyond the limit). Splitting a refused
//! chunk in halves until the culprit is alone lets every other rule through at a cost of about
//! 2·log2(n) extra calls per bad rule, instead of one call per rule for everyone.
use std::collections::VecDeque;
use std::future::Future;

use dac_tencentcloud::Error;

use crate::errors;

/// Calls `call` on `items` in chunks of at most `max`; a chunk refused for reasons that may
/// concern one item only ([`errors::worth_splitting`]) is halved and tried again, down to
/// single items. Returns each final chunk with its outcome, in the items' order.
///
/// `call` builds its request from the borrowed chunk before it awaits, so the future it returns
/// owns what it needs and the chunk need not be cloned.
pub(crate) async fn split_calls<T, F, Fut>(
    items: Vec<T>,
    max: usize,
    mut call: F,
) -> Vec<(Vec<T>, Result<(), Error>)>
where
    F: FnMut(&[T]) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let mut todo: VecDeque<Vec<T>> = VecDeque::new();
    let mut rest = items;
    while rest.len() > max {
        let tail = rest.split_off(max);
        todo.push_back(rest);
        rest = tail;
    }
    if !rest.is_empty() {
        todo.push_back(rest);
    }
    let mut done = Vec::new();
    while let Some(mut chunk) = todo.pop_front() {
        match call(&chunk).await {
            Err(err) if chunk.len() > 1 && errors::worth_splitting(&err) => {
                tracing::debug!(items = chunk.len(), error = %err, "splitting a refused batch");
                let right = chunk.split_off(chunk.len() / 2);
                todo.push_front(right);
                todo.push_front(chunk);
            }
            // Not even one more item fits: the rest of the batch would be refused the same
            // way, so it gets the same answer without costing a call each.
            Err(err) if errors::is_limit(&err) => {
                for rest in todo.drain(..) {
                    done.push((rest, Err(errors::same_error(&err))));
                }
                done.push((chunk, Err(err)));
            }
            outcome => done.push((chunk, outcome)),
        }
    }
    done
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
