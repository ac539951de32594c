//! Counts of cloud calls by action, split into writes and reads, so that tests, benchmarks and
//! metrics can say how many writes a binding costs. Each provider wraps its cloud API in a
//! counter that calls [`CallCounter::count`] once per call, whatever the outcome (the client's
//! own retries are below it and not counted). The batching providers add the rounds their
//! workers ran ([`BatchStats`]); the eip provider adds its own numbers beside [`CallStats`].
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether a call changes the cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Write,
    Read,
}

/// A snapshot of the calls made so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls that change the cloud, by action (only actions called at least once).
    pub writes: BTreeMap<String, u64>,
    /// Calls that only read, by action (only actions called at least once).
    pub reads: BTreeMap<String, u64>,
}

impl CallStats {
    pub fn total_writes(&self) -> u64 {
        self.writes.values().sum()
    }

    pub fn total_reads(&self) -> u64 {
        self.reads.values().sum()
    }

    pub fn writes_of(&self, action: &str) -> u64 {
        self.writes.get(action).copied().unwrap_or(0)
    }

    pub fn reads_of(&self, action: &str) -> u64 {
        self.reads.get(action).copied().unwrap_or(0)
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &CallStats) -> CallStats {
        CallStats {
            writes: minus(&self.writes, &earlier.writes),
            reads: minus(&self.reads, &earlier.reads),
        }
    }
}

/// Per-action differences, leaving out actions that were not called in between. Saturating,
/// so that snapshots passed in the wrong order give nothing rather than a panic.
fn minus(now: &BTreeMap<String, u64>, then: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    now.iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(then.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// `<n> writes {..}, <n> reads {..}`: the start of every provider's stats line.
impl fmt::Display for CallStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} writes {:?}, {} reads {:?}",
            self.total_writes(),
            self.writes,
            self.total_reads(),
            self.reads
        )
    }
}

/// The live counts behind [`CallStats`] snapshots.
#[derive(Debug, Default)]
pub struct CallCounter {
    calls: Mutex<BTreeMap<&'static str, (Kind, u64)>>,
}

impl CallCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one call of `action`.
    pub fn count(&self, action: &'static str, kind: Kind) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.entry(action).or_insert((kind, 0)).1 += 1;
    }

    pub fn snapshot(&self) -> CallStats {
        let calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let pick = |wanted: Kind| {
            calls
                .iter()
                .filter(|(_, (kind, _))| *kind == wanted)
                .map(|(action, (_, n))| ((*action).to_string(), *n))
                .collect()
        };
        CallStats {
            writes: pick(Kind::Write),
            reads: pick(Kind::Read),
        }
    }
}

/// A snapshot of a batching provider's calls and of the rounds its per-frontend workers ran
/// (one round: one describe and the batched writes for the jobs collected in one window).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Calls by action, writes and reads apart; also reachable through `Deref`, so that
    /// `stats.writes` and `stats.writes_of(..)` read like the other providers' stats.
    pub calls: CallStats,
    /// Batching rounds run by the workers.
    pub rounds: u64,
}

impl Deref for BatchStats {
    type Target = CallStats;

    fn deref(&self) -> &CallStats {
        &self.calls
    }
}

impl BatchStats {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &BatchStats) -> BatchStats {
        BatchStats {
            calls: self.calls.since(&earlier.calls),
            rounds: self.rounds.saturating_sub(earlier.rounds),
        }
    }
}

impl fmt::Display for BatchStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {} rounds", self.calls, self.rounds)
    }
}

/// The live counts behind [`BatchStats`] snapshots.
#[derive(Debug, Default)]
pub struct BatchCounter {
    calls: CallCounter,
    rounds: AtomicU64,
}

impl BatchCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one call of `action`.
    pub fn count(&self, action: &'static str, kind: Kind) {
        self.calls.count(action, kind);
    }

    pub fn count_round(&self) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> BatchStats {
        BatchStats {
            calls: self.calls.snapshot(),
            rounds: self.rounds.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_writes_and_reads_apart() {
        let counter = CallCounter::new();
        let before = counter.snapshot();
        counter.count("Create", Kind::Write);
        counter.count("Create", Kind::Write);
        counter.count("Describe", Kind::Read);
        let stats = counter.snapshot();
        assert_eq!(stats.writes_of("Create"), 2);
        assert_eq!(stats.total_writes(), 2);
        assert_eq!(stats.reads_of("Describe"), 1);
        assert_eq!(stats.total_reads(), 1);
        assert_eq!(stats.writes_of("Describe"), 0);
        assert_eq!(stats.since(&before), stats);
        assert_eq!(stats.since(&stats), CallStats::default());
        assert_eq!(
            stats.to_string(),
            r#"2 writes {"Create": 2}, 1 reads {"Describe": 1}"#
        );
    }

    #[test]
    fn counts_rounds_beside_the_calls() {
        let counter = BatchCounter::new();
        let before = counter.snapshot();
        counter.count("Create", Kind::Write);
        counter.count_round();
        let stats = counter.snapshot();
        assert_eq!(stats.rounds, 1);
        assert_eq!(stats.writes_of("Create"), 1);
        assert_eq!(stats.since(&before), stats);
        assert_eq!(stats.since(&stats), BatchStats::default());
        assert_eq!(
            stats.to_string(),
            r#"1 writes {"Create": 1}, 0 reads {}, 1 rounds"#
        );
    }
}
