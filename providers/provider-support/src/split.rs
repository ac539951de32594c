//! Batched calls that isolate the item the cloud refuses.
//!
//! The cloud's batch writes (CreateListener with many ports, Create/Delete of many DNAT rules,
//! DeleteLoadBalancerListeners) fail as a whole when one item is wrong (its port or slot is
//! taken, its Pod IP is not in the VPC, it is one beyond the limit). Splitting a refused chunk
//! in halves until the culprit is alone lets every other item through at a cost of about
//! 2·log2(n) extra calls per bad item, instead of one call per item for everyone.
use std::collections::VecDeque;
use std::future::Future;

/// How a provider reads a refusal. Which errors concern one item only is the provider's to
/// say: it depends on the API.
pub trait Refusals<E> {
    /// Whether the refusal may concern one item only, so that halving the chunk may let the
    /// others through.
    fn worth_splitting(&self, err: &E) -> bool;

    /// When not even one more item fits (a quota), the rest of the batch would be refused the
    /// same way: a copy of `err` to answer one remaining chunk with, without costing it a call.
    /// Asked once per remaining chunk, because the client's errors are not `Clone`. `None` (the
    /// default): the remaining chunks are called as usual.
    fn refusal_for_the_rest(&self, err: &E) -> Option<E> {
        let _ = err;
        None
    }
}

/// Calls `call` on `items` in chunks of at most `max`; a chunk refused for reasons that may
/// concern one item only ([`Refusals::worth_splitting`]) is halved and tried again, down to
/// single items. Returns each final chunk with its outcome, in the items' order; except that
/// when a refusal answers the rest ([`Refusals::refusal_for_the_rest`]), the remaining chunks
/// come before the chunk that was refused (callers match outcomes to items by chunk, not by
/// position).
///
/// `call` builds its request from the borrowed chunk before it awaits, so the future it returns
/// owns what it needs and the chunk need not be cloned.
pub async fn split_calls<T, R, E, F, Fut>(
    items: Vec<T>,
    max: usize,
    refusals: &impl Refusals<E>,
    mut call: F,
) -> Vec<(Vec<T>, Result<R, E>)>
where
    E: std::fmt::Display,
    F: FnMut(&[T]) -> Fut,
    Fut: Future<Output = Result<R, E>>,
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
            Err(err) if chunk.len() > 1 && refusals.worth_splitting(&err) => {
                tracing::debug!(items = chunk.len(), error = %err, "splitting a refused batch");
                let right = chunk.split_off(chunk.len() / 2);
                todo.push_front(right);
                todo.push_front(chunk);
            }
            Err(err) => {
                while !todo.is_empty() {
                    let Some(same) = refusals.refusal_for_the_rest(&err) else {
                        break;
                    };
                    done.extend(todo.pop_front().map(|rest| (rest, Err(same))));
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

    /// `"bad"` may concern one item; `"full"` also refuses everything after it.
    struct Test;

    impl Refusals<&'static str> for Test {
        fn worth_splitting(&self, err: &&'static str) -> bool {
            *err == "bad" || *err == "full"
        }

        fn refusal_for_the_rest(&self, err: &&'static str) -> Option<&'static str> {
            (*err == "full").then_some("full")
        }
    }

    /// Never refuses the rest: the default.
    struct SplitOnly;

    impl Refusals<&'static str> for SplitOnly {
        fn worth_splitting(&self, err: &&'static str) -> bool {
            *err == "bad"
        }
    }

    #[tokio::test]
    async fn isolates_the_refused_item_and_keeps_order() {
        let mut calls: Vec<Vec<u32>> = Vec::new();
        let out = split_calls((1..=10).collect(), 4, &SplitOnly, |chunk: &[u32]| {
            calls.push(chunk.to_vec());
            let bad = chunk.contains(&6);
            async move { if bad { Err("bad") } else { Ok(()) } }
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
        let mut calls = 0;
        let mut used = 0;
        let out = split_calls((1..=8).collect(), 100, &Test, |chunk: &[u32]| {
            calls += 1;
            let fits = used + chunk.len() <= 5;
            if fits {
                used += chunk.len();
            }
            async move { if fits { Ok(()) } else { Err("full") } }
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
        // The rest first, then the chunk that was refused.
        assert_eq!(refused, [7, 8, 6]);
        // [1-8], [1-4], [5-8], [5,6], [5], [6]; then [7,8] without a call.
        assert_eq!(calls, 6);
    }

    #[tokio::test]
    async fn does_not_split_what_concerns_everyone() {
        let mut n = 0;
        let out = split_calls((1..=10).collect::<Vec<u32>>(), 100, &Test, |_: &[u32]| {
            n += 1;
            async { Err::<(), _>("gone") }
        })
        .await;
        assert_eq!(n, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.len(), 10);
    }
}
