//! Timestamps as AWS puts them on the wire.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// ISO 8601 with millisecond precision and `Z`, as S3 and IAM policies use
/// it: `2009-10-12T17:50:30.000Z`.
pub fn iso8601_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// ISO 8601 with second precision and `Z`, as the query protocol renders
/// timestamps: `2014-10-24T23:00:23Z`.
pub fn iso8601(epoch_seconds: i64) -> String {
    let t =
        OffsetDateTime::from_unix_timestamp(epoch_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an RFC 3339 timestamp to epoch seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(iso8601(1414191623), "2014-10-24T23:00:23Z");
        assert_eq!(parse_rfc3339("2014-10-24T23:00:23Z"), Some(1414191623));
        assert_eq!(parse_rfc3339("nope"), None);
    }
}
