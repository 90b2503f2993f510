//! Formatting UTC timestamps (RFC 3339, run ids) without a calendar dependency.

use std::time::SystemTime;

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day, hour, minute, second) of a Unix time.
fn fields(secs: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

fn unix(t: SystemTime) -> (i64, u32) {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(_) => (0, 0),
    }
}

/// `2026-11-26T03:45:12Z`
pub fn rfc3339(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss) = fields(unix(t).0);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// `2026-11-26T03:45:12.123456789Z` for a file time (seconds may be negative).
pub fn rfc3339_nanos(secs: i64, nanos: u32) -> String {
    let (y, m, d, hh, mm, ss) = fields(secs);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{nanos:09}Z")
}

/// `20261126-034512`, for a file time in a file name (seconds may be negative).
pub fn compact(secs: i64) -> String {
    let (y, m, d, hh, mm, ss) = fields(secs);
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

/// A sortable, unique-enough name for one run: `20261126T034512.345Z`.
pub fn run_id(t: SystemTime) -> String {
    let (secs, nanos) = unix(t);
    let (y, m, d, hh, mm, ss) = fields(secs);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}.{:03}Z", nanos / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_664_712_345);
        assert_eq!(run_id(t), "20261126T034512.345Z");
        assert_eq!(rfc3339(t), "2026-11-26T03:45:12Z");
        assert_eq!(compact(1_795_664_712), "20261126-034512");
        assert_eq!(run_id(SystemTime::UNIX_EPOCH), "19700101T000000.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(&run_id(leap)[..8], "20000229");
        assert_eq!(rfc3339_nanos(-1, 5), "1969-12-31T23:59:59.000000005Z");
    }
}
