//! Qualys' timestamp spelling (`2020-09-01T08:54:50.473+0000`, the view page's `created`) and the
//! forms the sim accepts for `validity.customExpirationDate`.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// `2020-09-01T08:54:50.473+0000`, in UTC.
pub fn format(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    let spelled = at.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
    ));
    spelled.unwrap_or_default()
}

/// A custom expiration date: `YYYY-MM-DD` (the end of that day, UTC), RFC 3339, or the
/// view page's own spelling.
pub fn parse_expiration(text: &str) -> Option<OffsetDateTime> {
    if let Ok(date) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        let end = Time::from_hms(23, 59, 59).ok()?;
        return Some(PrimitiveDateTime::new(date, end).assume_utc());
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at);
    }
    OffsetDateTime::parse(
        text,
        format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
        ),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_view_page_and_reads_it_back() {
        let at = OffsetDateTime::from_unix_timestamp(1_598_950_490).expect("time")
            + time::Duration::milliseconds(473);
        assert_eq!(format(at), "2020-09-01T08:54:50.473+0000");
        assert_eq!(parse_expiration(&format(at)), Some(at));
        assert_eq!(
            parse_expiration("2020-09-01").map(|d| d.unix_timestamp()),
            Some(1_599_004_799)
        );
        assert!(parse_expiration("2020-09-01T08:54:50Z").is_some());
        assert!(parse_expiration("next week").is_none());
    }
}
