//! Points in time as people type them (`30d`, `2027-01-01`, `tomorrow`),
//! read the same way by the CLI and the console.

/// Parse a point in time: a duration from now (`2h`, `30d`) in the given
/// direction; `now`, `today`, `yesterday` or `tomorrow` (midnight, local
/// time); a date (`2027-01-01`, midnight local time) or a date and time
/// (`2027-01-01 09:30`, local); or an RFC 3339 time.
pub fn parse_time(s: &str, future: bool) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
    let fix = "use a duration such as 2h or 30d, a date such as 2027-01-01, today, yesterday, or an RFC 3339 time such as 2026-12-31T00:00:00Z";
    let s = s.trim();
    if let Ok(d) = humantime::parse_duration(s) {
        let d = chrono::Duration::from_std(d).map_err(|_| format!("{s:?} is too long; {fix}"))?;
        let now = Utc::now();
        return if future {
            now.checked_add_signed(d)
        } else {
            now.checked_sub_signed(d)
        }
        .ok_or_else(|| format!("{s:?} is too long; {fix}"));
    }
    let local = |t: NaiveDateTime| {
        Local
            .from_local_datetime(&t)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("{s:?} does not exist in the local time zone; {fix}"))
    };
    let today = Local::now().date_naive();
    let day = match s.to_ascii_lowercase().as_str() {
        "now" => return Ok(Utc::now()),
        "today" => Some(today),
        "yesterday" => today.pred_opt(),
        "tomorrow" => today.succ_opt(),
        _ => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
    };
    if let Some(d) = day {
        return local(d.and_hms_opt(0, 0, 0).unwrap_or_default());
    }
    for f in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return local(t);
        }
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("{s:?} is not a time; {fix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_dates_and_words() {
        let now = chrono::Utc::now();
        let t = parse_time("2h", true).unwrap();
        assert!(t > now && t <= now + chrono::Duration::hours(2) + chrono::Duration::seconds(5));
        assert!(parse_time("30d", false).unwrap() < now);
        assert!(parse_time("2027-01-01", true).is_ok());
        assert!(parse_time("2027-01-01T00:00:00Z", true).is_ok());
        assert!(parse_time("tomorrow", true).unwrap() > now);
        let e = parse_time("soonish", true).unwrap_err();
        assert!(e.contains("is not a time") && e.contains("30d"), "{e}");
    }
}
