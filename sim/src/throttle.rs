//! Per-caller throttle windows: after a 429 with `Retry-After`, that caller is refused until the
//! window ends, and requests that arrive clearly after the 429 was sent are counted as early.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use axum::http::HeaderValue;

/// Requests that arrive within this long after a 429 were probably already in flight when it
/// went out, so they are not held against the client.
pub const IN_FLIGHT_GRACE: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug)]
struct Window {
    sent_at: Instant,
    until: Instant,
    /// Set when the window was announced as an HTTP date, so repeats use the same form.
    until_wall: Option<SystemTime>,
}

/// A caller still inside its window.
#[derive(Clone, Debug)]
pub struct StillThrottled {
    pub retry_after: HeaderValue,
    pub early: bool,
}

#[derive(Default)]
pub struct ThrottleBook {
    windows: HashMap<String, Window>,
}

/// The `Retry-After` value for a fresh throttle and the instant the window really ends.
pub struct RetryAfter {
    pub header: HeaderValue,
    pub until: Instant,
    pub until_wall: Option<SystemTime>,
}

impl RetryAfter {
    /// Whole seconds; an HTTP date is rounded *up* to a whole second so a client that honours
    /// the date never comes back before the window ends.
    pub fn new(seconds: u64, http_date: bool) -> RetryAfter {
        let now = Instant::now();
        // A hostile-server fault may ask for an absurd wait: the header still says it, but the
        // sim's own clocks stop at a century instead of overflowing.
        let seconds_for_clocks = seconds.min(100 * 365 * 86_400);
        if !http_date {
            return RetryAfter {
                header: HeaderValue::from(seconds),
                until: now + Duration::from_secs(seconds_for_clocks),
                until_wall: None,
            };
        }
        let wall_now = SystemTime::now();
        let target = wall_now + Duration::from_secs(seconds_for_clocks);
        let since_epoch = target.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let rounded = if since_epoch.subsec_nanos() == 0 {
            since_epoch
        } else {
            Duration::from_secs(since_epoch.as_secs() + 1)
        };
        let until_wall = SystemTime::UNIX_EPOCH + rounded;
        let wait = until_wall.duration_since(wall_now).unwrap_or_default();
        RetryAfter {
            header: http_date_header(until_wall),
            until: now + wait,
            until_wall: Some(until_wall),
        }
    }

    /// Reads a `Retry-After` a handler produced (seconds or HTTP date).
    pub fn parse(value: &HeaderValue) -> Option<RetryAfter> {
        let text = value.to_str().ok()?.trim();
        if let Ok(seconds) = text.parse::<u64>() {
            return Some(RetryAfter::new(seconds, false));
        }
        let wall = httpdate::parse_http_date(text).ok()?;
        let wait = wall.duration_since(SystemTime::now()).unwrap_or_default();
        Some(RetryAfter {
            header: value.clone(),
            until: Instant::now() + wait,
            until_wall: Some(wall),
        })
    }
}

fn http_date_header(at: SystemTime) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(at)).unwrap_or_else(|_| HeaderValue::from_static("1"))
}

impl ThrottleBook {
    pub fn start(&mut self, caller: &str, retry_after: &RetryAfter) {
        let window = Window {
            sent_at: Instant::now(),
            until: retry_after.until,
            until_wall: retry_after.until_wall,
        };
        self.windows.insert(caller.to_string(), window);
    }

    pub fn check(&mut self, caller: &str) -> Option<StillThrottled> {
        let now = Instant::now();
        let window = *self.windows.get(caller)?;
        if now >= window.until {
            self.windows.remove(caller);
            return None;
        }
        let retry_after = match window.until_wall {
            Some(wall) => http_date_header(wall),
            None => HeaderValue::from((window.until - now).as_secs_f64().ceil().max(1.0) as u64),
        };
        Some(StillThrottled {
            retry_after,
            early: now.duration_since(window.sent_at) > IN_FLIGHT_GRACE,
        })
    }

    pub fn clear(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_refuses_until_it_ends() {
        let mut book = ThrottleBook::default();
        assert!(book.check("k").is_none());
        book.start("k", &RetryAfter::new(1, false));
        let refused = book.check("k").expect("inside window");
        assert_eq!(refused.retry_after, HeaderValue::from(1u64));
        assert!(
            !refused.early,
            "a request right after the 429 is in flight, not early"
        );
        assert!(book.check("other").is_none());
    }

    #[test]
    fn late_arrivals_are_early() {
        let mut book = ThrottleBook::default();
        book.start("k", &RetryAfter::new(5, false));
        std::thread::sleep(IN_FLIGHT_GRACE + Duration::from_millis(20));
        assert!(book.check("k").expect("inside window").early);
    }

    #[test]
    fn zero_second_window_is_over_at_once() {
        let mut book = ThrottleBook::default();
        book.start("k", &RetryAfter::new(0, false));
        assert!(book.check("k").is_none());
    }

    #[test]
    fn http_date_rounds_up_and_parses_back() {
        let retry = RetryAfter::new(2, true);
        let text = retry.header.to_str().expect("ascii").to_string();
        assert!(text.ends_with("GMT"), "{text}");
        let wall = httpdate::parse_http_date(&text).expect("http date");
        assert!(wall >= SystemTime::now() + Duration::from_secs(1));
        assert!(RetryAfter::parse(&retry.header).is_some());
    }
}
