//! Ids and clocks.
use rand::Rng;
use rand::distr::Alphanumeric;

/// Wall-clock milliseconds. Task deadlines are stored in wall time (not `Instant`) so that they
/// survive in the state file.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The cloud's id shape: a prefix and eight lowercase letters or digits (`lbl-1a2b3c4d`).
pub fn random_id(prefix: &str) -> String {
    let suffix: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(8)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect();
    format!("{prefix}-{suffix}")
}

/// `2024-05-01 12:00:00`, the format of the cloud's `CreateTime` fields (UTC here).
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `2024-05-01`, the day a daily quota counts in.
pub fn day_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// Offset/Limit paging with the cloud's defaults and bounds.
pub fn page<T>(
    items: Vec<T>,
    offset: Option<i64>,
    limit: Option<i64>,
    max: i64,
) -> crate::error::ApiResult<Vec<T>> {
    let offset = offset.unwrap_or(0);
    let limit = limit.unwrap_or(20);
    if offset < 0 {
        return Err(crate::error::ApiError::range("Offset", offset, 0, i64::MAX));
    }
    if !(0..=max).contains(&limit) {
        return Err(crate::error::ApiError::range("Limit", limit, 0, max));
    }
    Ok(items
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(0))
        .collect())
}

/// `2024-05-01T12:00:00Z`, the ISO 8601 form EIP's `CreatedTime` uses.
pub fn iso_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// VPC resources other than EIPs use the same form as CLB.
pub fn vpc_time(ms: i64) -> String {
    format_time(ms)
}
