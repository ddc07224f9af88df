//! Timestamps in the shape Port returns them (`2022-07-26T16:38:06.839Z`) and the
//! `date-time` format check.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn now_rfc3339() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

pub fn now_epoch_secs() -> u64 {
    OffsetDateTime::now_utc().unix_timestamp().max(0) as u64
}

/// RFC 3339 with the `T` separator and an offset, as Port's `date-time` format demands.
/// `2023-06-15 09:00:00+00:00` (what Python prints) is rejected.
pub fn is_rfc3339(value: &str) -> bool {
    // The `time` parser also takes a space where RFC 3339's note allows one; Port does not.
    let has_t = matches!(value.as_bytes().get(10), Some(b'T' | b't'));
    has_t && OffsetDateTime::parse(value, &Rfc3339).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_time_requires_t_and_offset() {
        assert!(is_rfc3339("2023-06-15T09:00:00Z"));
        assert!(is_rfc3339("2023-06-15T09:00:00.123+02:00"));
        assert!(!is_rfc3339("2023-06-15 09:00:00+00:00"));
        assert!(!is_rfc3339("2023-06-15T09:00:00"));
        assert!(!is_rfc3339("2023-02-30T09:00:00Z"));
        assert!(is_rfc3339(&now_rfc3339()));
    }
}
