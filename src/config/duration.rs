//! Durations written the way people write them in YAML: `500ms`, `90s`, `30m`, `12h`, `7d`.
use std::time::Duration;

/// Parses one number with one unit (`ms`, `s`, `m`, `h`, `d`). The CRDs accept the same
/// spelling minus `ms` (their pattern is `^[0-9]+(s|m|h|d)$`), so this also reads
/// `spec.eip.retention.duration`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("{s:?} is not a duration like 500ms, 90s, 30m, 12h or 7d");
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
    let (number, unit) = s.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds_per_unit = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
        .ok_or_else(invalid)
}

/// serde's reader for a duration field written as in [`parse_duration`].
pub fn deserialize<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_understood() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration(" 7d "), Ok(Duration::from_secs(604_800)));
    }

    #[test]
    fn anything_else_is_an_error() {
        for bad in [
            "",
            "30",
            "m",
            "1.5h",
            "-1s",
            "10 m",
            "1w",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }
}
