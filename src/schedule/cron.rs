//! Cron schedules: parsing crontab(5) expressions and computing fire times. Pure: the clock is
//! always passed in.
//!
//! Semantics are crontab's: five fields (or six, with seconds first), names (`jan`, `Mon-Fri`),
//! `@daily`-style macros, and day-of-month OR day-of-week when both are restricted. Fire times are
//! computed in the job's IANA time zone, so daylight-saving changes are handled as cron users
//! expect: a fixed-time job in the hour that spring-forward skips runs once, at the first instant
//! after the gap, and keeps its wall-clock time afterwards; a fixed-time job in the hour that
//! fall-back repeats runs once. (croner implements these rules; the tests below pin them.)

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed schedule in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
    tz: Tz,
}

/// Each field's name and range, in a five-field expression's order.
const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
];

/// Name a number outside its field's range: "minute 61 is out of range 0-59".
fn check_ranges(expr: &str) -> Result<(), String> {
    if expr.trim_start().starts_with('@') {
        return Ok(());
    }
    let words: Vec<&str> = expr.split_whitespace().collect();
    let named: Vec<(&str, u32, u32)> = if words.len() == 6 {
        std::iter::once(("second", 0, 59)).chain(FIELDS).collect()
    } else {
        FIELDS.to_vec()
    };
    for (word, (name, low, high)) in words.iter().zip(named) {
        for part in word.split(',') {
            // A step (`*/15`) is a count, not a value of the field.
            let values = part.split('/').next().unwrap_or(part);
            for v in values.split('-') {
                if let Ok(n) = v.parse::<u32>()
                    && !(low..=high).contains(&n)
                {
                    return Err(format!(
                        "cron expression {expr:?}: {name} {n} is out of range {low}-{high}"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The local time zone: `$TZ`, else the system's, else UTC.
pub fn local_tz() -> Tz {
    let name = std::env::var("TZ")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| iana_time_zone::get_timezone().ok());
    name.and_then(|n| n.trim_start_matches(':').parse().ok()).unwrap_or(Tz::UTC)
}

/// Parse an IANA time zone name (`Europe/Berlin`); `None` means local time.
pub fn parse_tz(name: Option<&str>) -> Result<Tz, String> {
    match name {
        None => Ok(local_tz()),
        Some(n) => n.parse::<Tz>().map_err(|_| {
            format!(
                "unknown time zone {n:?}; use an IANA name such as \"Europe/Berlin\" or \"UTC\""
            )
        }),
    }
}

impl Schedule {
    /// Parse a crontab expression for time zone `tz`.
    pub fn parse(expr: &str, tz: Tz) -> Result<Schedule, String> {
        let fields = expr.split_whitespace().count();
        if !expr.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
            return Err(format!(
                "cron expression {expr:?} has {fields} fields; use 5 (minute hour day month weekday) \
                 or 6 (with seconds first)"
            ));
        }
        check_ranges(expr)?;
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .dom_and_dow(false)
            .build();
        let cron =
            parser.parse(expr).map_err(|e| format!("invalid cron expression {expr:?}: {e}"))?;
        let schedule = Schedule { expr: expr.to_string(), cron, tz };
        // Every valid day fires within 8 years (29 February within 4); one that never does is a
        // mistake, such as the 31st of February.
        let from = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
        let found = schedule.next_after(from);
        if found.is_none_or(|t| t.signed_duration_since(from).num_days() > 8 * 366) {
            return Err(format!(
                "cron expression {expr:?} never fires (is that day in that month?); check the day \
                 and month fields"
            ));
        }
        Ok(schedule)
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The schedule in words, e.g. "At every 15th minute.".
    pub fn describe(&self) -> String {
        self.cron.describe()
    }

    /// The first fire time strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        self.cron.find_next_occurrence(&local, false).ok().map(|d| d.with_timezone(&Utc))
    }

    /// The next `n` fire times after `t`, in the schedule's time zone.
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Tz>> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        while out.len() < n {
            match self.next_after(at) {
                Some(next) => {
                    out.push(next.with_timezone(&self.tz));
                    at = next;
                }
                None => break,
            }
        }
        out
    }

    /// Whether a fire time falls in `(after, until]`: a run was due in that window.
    pub fn due_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        self.next_after(after).is_some_and(|t| t <= until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn times(expr: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        let s = Schedule::parse(expr, tz.parse().unwrap()).unwrap();
        s.upcoming(utc(from), n).iter().map(|t| t.to_rfc3339()).collect()
    }

    #[test]
    fn spring_forward_runs_once_and_keeps_wall_clock_time_afterwards() {
        // Europe/Berlin skips 02:00-03:00 on 2026-03-29
        assert_eq!(
            times("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", 4),
            [
                "2026-03-28T02:30:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T02:30:00+02:00",
                "2026-03-31T02:30:00+02:00",
            ]
        );
        // America/New_York skips 02:00-03:00 on 2026-03-08
        assert_eq!(
            times("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
            ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]
        );
    }

    #[test]
    fn fall_back_runs_a_fixed_time_job_once() {
        // Europe/Berlin repeats 02:00-03:00 on 2026-10-25
        assert_eq!(
            times("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 3),
            ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"]
        );
        // Australia/Sydney repeats 02:00-03:00 on 2026-04-05
        assert_eq!(
            times("15 2 * * *", "Australia/Sydney", "2026-04-04T00:00:00Z", 2),
            ["2026-04-05T02:15:00+11:00", "2026-04-06T02:15:00+10:00"]
        );
    }

    #[test]
    fn interval_jobs_keep_their_rhythm_in_real_time_across_transitions() {
        let s = Schedule::parse("*/30 * * * *", "Europe/Berlin".parse().unwrap()).unwrap();
        for from in ["2026-03-29T00:00:00Z", "2026-10-25T00:00:00Z"] {
            let t = s.upcoming(utc(from), 8);
            for w in t.windows(2) {
                let gap = w[1].with_timezone(&Utc) - w[0].with_timezone(&Utc);
                assert_eq!(gap.num_minutes(), 30, "{} -> {}", w[0], w[1]);
            }
        }
    }

    #[test]
    fn crontab_syntax() {
        // day-of-month OR day-of-week, as crontab(5) says
        let s = times("0 12 13 * fri", "UTC", "2026-11-01T00:00:00Z", 4);
        assert_eq!(
            s,
            [
                "2026-11-06T12:00:00+00:00",
                "2026-11-13T12:00:00+00:00",
                "2026-11-20T12:00:00+00:00",
                "2026-11-27T12:00:00+00:00",
            ]
        );
        let s = times("0 12 1 * mon", "UTC", "2026-11-25T00:00:00Z", 2);
        assert_eq!(s, ["2026-11-30T12:00:00+00:00", "2026-12-01T12:00:00+00:00"]);
        // names, ranges, macros and a seconds field
        assert_eq!(
            times("0 9 * jan Mon-Fri", "UTC", "2026-12-31T00:00:00Z", 1),
            ["2027-01-01T09:00:00+00:00"]
        );
        assert_eq!(
            times("@daily", "UTC", "2026-11-26T05:00:00Z", 1),
            ["2026-11-27T00:00:00+00:00"]
        );
        assert_eq!(
            times("@hourly", "UTC", "2026-11-26T05:00:00Z", 1),
            ["2026-11-26T06:00:00+00:00"]
        );
        assert_eq!(
            times("*/20 * * * * *", "UTC", "2026-11-26T05:00:01Z", 2),
            ["2026-11-26T05:00:20+00:00", "2026-11-26T05:00:40+00:00"]
        );
    }

    #[test]
    fn bad_expressions_and_zones_are_refused_with_reasons() {
        let tz = Tz::UTC;
        for bad in ["61 * * * *", "* * *", "* * * * * * *", "0 0 32 * *", "bogus", "0 0 * * eleven"]
        {
            assert!(Schedule::parse(bad, tz).is_err(), "{bad}");
        }
        assert!(Schedule::parse("* * *", tz).unwrap_err().contains("3 fields"));
        assert!(parse_tz(Some("Mars/Olympus")).unwrap_err().contains("unknown time zone"));
        assert_eq!(parse_tz(Some("Asia/Tokyo")).unwrap(), chrono_tz::Asia::Tokyo);
    }

    #[test]
    fn missed_runs_and_words() {
        let s = Schedule::parse("0 3 * * *", Tz::UTC).unwrap();
        let last = Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap();
        assert!(s.due_between(last, Utc.with_ymd_and_hms(2026, 11, 21, 4, 0, 0).unwrap()));
        assert!(!s.due_between(last, Utc.with_ymd_and_hms(2026, 11, 21, 2, 59, 0).unwrap()));
        assert!(!s.describe().is_empty());
    }

    #[test]
    fn errors_name_the_field_and_its_range_and_a_schedule_that_never_fires() {
        let err = |e: &str| Schedule::parse(e, chrono_tz::UTC).unwrap_err();
        assert!(err("61 * * * *").contains("minute 61 is out of range 0-59"));
        assert!(err("0 24 * * *").contains("hour 24 is out of range 0-23"));
        assert!(err("0 0 0 * *").contains("day of month 0 is out of range 1-31"));
        assert!(err("0 0 1 1-13 *").contains("month 13 is out of range 1-12"));
        assert!(err("60 0 0 * * *").contains("second 60 is out of range 0-59"));
        assert!(err("0 0 31 2 *").contains("never fires"));
        assert!(err("0 0 30 2 *").contains("never fires"));
        for fine in ["0 0 29 2 *", "*/15 * * * *", "0 9-17/2 * * Mon-Fri", "@daily", "0 0 * * 7"] {
            assert!(Schedule::parse(fine, chrono_tz::UTC).is_ok(), "{fine}");
        }
    }
}
