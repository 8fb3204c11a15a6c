//! Time helpers: milliseconds since the epoch inside, RFC 3339 with milliseconds on the wire.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

pub fn now_secs() -> i64 {
    Utc::now().timestamp()
}

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 (UTC) of a millisecond time.
pub fn day_of(ms: i64) -> u32 {
    ms.div_euclid(DAY_MS).clamp(0, u32::MAX as i64) as u32
}

/// `2026-11-21T10:00:00.000Z`, Mastodon's format.
pub fn rfc3339_millis(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_with_millis_and_z() {
        assert_eq!(super::rfc3339_millis(1_795_255_200_123), "2026-11-21T10:00:00.123Z");
        assert_eq!(super::rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
    }
}
