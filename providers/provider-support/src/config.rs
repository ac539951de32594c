//! Checks the providers' configurations share. Each provider keeps its own `ConfigError`, whose
//! messages name its own section (`providers.clb.…`), and converts these into it.

/// A numeric setting outside the range the provider can work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} is {value}; it must be within {min}..={max}")]
pub struct OutOfRange {
    /// The setting's name as users write it (`batchWindowMs`).
    pub field: &'static str,
    pub value: u64,
    pub min: u64,
    pub max: u64,
}

/// Whether setting `field`'s `value` is within `min..=max`.
pub fn within(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), OutOfRange> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(within("x", 1, 1, 3), Ok(()));
        assert_eq!(within("x", 3, 1, 3), Ok(()));
        let err = within("maxBatchJobs", 0, 1, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "maxBatchJobs is 0; it must be within 1..=3"
        );
    }
}
