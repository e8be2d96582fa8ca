//! When to ask TLM again whether each Certificate's issued certificate is still valid, and what
//! it last said. Process memory: after a restart the first checks are spread over one interval
//! instead of all asked at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rand::Rng;

use super::decide::IssuedCheck;

pub struct IssuedChecks {
    /// None: checks are off.
    interval: Option<Duration>,
    inner: Mutex<HashMap<String, IssuedCheck>>,
}

impl IssuedChecks {
    pub fn new(interval: Option<Duration>) -> Self {
        Self {
            interval: interval.filter(|i| !i.is_zero()),
            inner: Mutex::default(),
        }
    }

    /// The check state for a Certificate whose Secret holds `serial` (None: no valid
    /// certificate, nothing to check).
    pub fn view(&self, uid: &str, serial: Option<&str>, now: Timestamp) -> Option<IssuedCheck> {
        let interval = self.interval?;
        let serial = serial?;
        let mut map = self.inner.lock().expect("issued checks lock");
        let entry = map.entry(uid.to_string()).or_insert_with(|| IssuedCheck {
            serial: Some(serial.to_string()),
            due: later(now, spread(interval)),
            terminal_state: None,
        });
        if entry.serial.as_deref() != Some(serial) {
            // A new certificate: a full interval before its first check.
            *entry = IssuedCheck {
                serial: Some(serial.to_string()),
                due: later(now, signed(interval)),
                terminal_state: None,
            };
        }
        Some(entry.clone())
    }

    /// Records TLM's answer about `serial`; the next check is one interval away.
    pub fn checked(&self, uid: &str, serial: &str, terminal_state: Option<String>) {
        let Some(interval) = self.interval else { return };
        self.inner.lock().expect("issued checks lock").insert(
            uid.to_string(),
            IssuedCheck {
                serial: Some(serial.to_string()),
                due: later(Timestamp::now(), signed(interval)),
                terminal_state,
            },
        );
    }

    /// The check could not be made: try again after `after` (at most one interval).
    pub fn retry_in(&self, uid: &str, after: Duration) {
        let Some(interval) = self.interval else { return };
        if let Some(entry) = self.inner.lock().expect("issued checks lock").get_mut(uid) {
            entry.due = later(Timestamp::now(), signed(after.min(interval)));
        }
    }

    pub fn forget(&self, uid: &str) {
        self.inner.lock().expect("issued checks lock").remove(uid);
    }
}

/// `at + d`, saturating at the end of time instead of panicking (the interval is a flag).
fn later(at: Timestamp, d: SignedDuration) -> Timestamp {
    at.checked_add(d).unwrap_or(Timestamp::MAX)
}

fn signed(d: Duration) -> SignedDuration {
    SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX)
}

/// A random point within the interval.
fn spread(interval: Duration) -> SignedDuration {
    signed(interval.mul_f64(rand::rng().random_range(0.0..1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_checks_spread_new_serials_wait_an_interval_and_off_means_none() {
        let checks = IssuedChecks::new(Some(Duration::from_secs(3600)));
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let first = checks.view("u", Some("AA"), now).unwrap();
        assert!(first.due >= now && first.due <= now + SignedDuration::from_secs(3600));
        assert_eq!(checks.view("u", Some("AA"), now).unwrap(), first);
        let renewed = checks.view("u", Some("BB"), now).unwrap();
        assert_eq!(renewed.due, now + SignedDuration::from_secs(3600));
        assert_eq!(renewed.serial.as_deref(), Some("BB"));
        checks.checked("u", "BB", Some("revoked".into()));
        assert_eq!(
            checks
                .view("u", Some("BB"), now)
                .unwrap()
                .terminal_state
                .as_deref(),
            Some("revoked")
        );
        assert_eq!(checks.view("v", None, now), None);
        assert_eq!(IssuedChecks::new(None).view("u", Some("AA"), now), None);
        assert_eq!(
            IssuedChecks::new(Some(Duration::ZERO)).view("u", Some("AA"), now),
            None
        );
    }
}
