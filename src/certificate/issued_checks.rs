//! When to ask TLM again whether each Certificate's issued certificate is still valid, and what
//! it last said. Process memory: after a restart the first checks are spread over one interval
//! instead of all asked at once.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rand::Rng;

use super::decide::IssuedCheck;

pub struct IssuedChecks {
    /// None: checks are off.
    interval: Option<Duration>,
    /// Keyed by the Certificate's UID, as a number: one entry per issued Certificate, so
    /// 10,000 of them cost 16 bytes of key each instead of a 36-character string.
    inner: Mutex<HashMap<u128, Entry>>,
    /// Hashes serials (and UIDs that are not UUIDs); per process, so nothing can be chosen to
    /// collide with another.
    hasher: RandomState,
}

/// What is kept per Certificate: the serial only as a hash (the caller has the serial).
struct Entry {
    serial: u64,
    due: Timestamp,
    terminal_state: Option<Box<str>>,
}

impl IssuedChecks {
    pub fn new(interval: Option<Duration>) -> Self {
        Self {
            interval: interval.filter(|i| !i.is_zero()),
            inner: Mutex::default(),
            hasher: RandomState::new(),
        }
    }

    /// The check state for a Certificate whose Secret holds `serial` (None: no valid
    /// certificate, nothing to check).
    pub fn view(&self, uid: &str, serial: Option<&str>, now: Timestamp) -> Option<IssuedCheck> {
        let interval = self.interval?;
        let serial = serial?;
        let serial_hash = self.hasher.hash_one(serial);
        let mut map = self.inner.lock().expect("issued checks lock");
        let entry = map.entry(self.uid_key(uid)).or_insert_with(|| Entry {
            serial: serial_hash,
            due: later(now, spread(interval)),
            terminal_state: None,
        });
        if entry.serial != serial_hash {
            // A new certificate: a full interval before its first check.
            *entry = Entry {
                serial: serial_hash,
                due: later(now, signed(interval)),
                terminal_state: None,
            };
        }
        Some(IssuedCheck {
            serial: Some(serial.to_string()),
            due: entry.due,
            terminal_state: entry.terminal_state.as_deref().map(str::to_string),
        })
    }

    /// Records TLM's answer about `serial`; the next check is one interval away.
    pub fn checked(&self, uid: &str, serial: &str, terminal_state: Option<String>) {
        let Some(interval) = self.interval else { return };
        self.inner.lock().expect("issued checks lock").insert(
            self.uid_key(uid),
            Entry {
                serial: self.hasher.hash_one(serial),
                due: later(Timestamp::now(), signed(interval)),
                terminal_state: terminal_state.map(String::into_boxed_str),
            },
        );
    }

    /// The check could not be made: try again after `after` (at most one interval).
    pub fn retry_in(&self, uid: &str, after: Duration) {
        let Some(interval) = self.interval else { return };
        if let Some(entry) = self
            .inner
            .lock()
            .expect("issued checks lock")
            .get_mut(&self.uid_key(uid))
        {
            entry.due = later(Timestamp::now(), signed(after.min(interval)));
        }
    }

    pub fn forget(&self, uid: &str) {
        self.inner
            .lock()
            .expect("issued checks lock")
            .remove(&self.uid_key(uid));
    }

    /// A UUID's own 128 bits; anything else hashed (into the low 64, which no UUID v4 can
    /// occupy alone: its version digit is in the high half).
    fn uid_key(&self, uid: &str) -> u128 {
        parse_uuid(uid).unwrap_or_else(|| u128::from(self.hasher.hash_one(uid)))
    }
}

/// A UUID (what the API server assigns as UIDs) as the number it spells.
fn parse_uuid(uid: &str) -> Option<u128> {
    let mut hex = uid.bytes().filter(|b| *b != b'-');
    if uid.len() != 36 || hex.clone().count() != 32 {
        return None;
    }
    hex.try_fold(0u128, |acc, b| {
        (b as char).to_digit(16).map(|d| (acc << 4) | u128::from(d))
    })
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

    #[test]
    fn uids_are_told_apart_and_forgotten() {
        let checks = IssuedChecks::new(Some(Duration::from_secs(3600)));
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let (a, b) = (
            "6f1c2a4e-3b7d-4c1a-9e2f-0a1b2c3d4e5f",
            "6f1c2a4e-3b7d-4c1a-9e2f-0a1b2c3d4e50",
        );
        assert_eq!(parse_uuid(a), Some(0x6f1c2a4e3b7d4c1a9e2f0a1b2c3d4e5f));
        assert_eq!(parse_uuid("6f1c2a4e-3b7d-4c1a-9e2f-0a1b2c3d4e5g"), None);
        checks.checked(a, "AA", Some("revoked".into()));
        assert_eq!(checks.view(b, Some("AA"), now).unwrap().terminal_state, None);
        assert_eq!(
            checks.view(a, Some("AA"), now).unwrap().terminal_state.as_deref(),
            Some("revoked")
        );
        checks.forget(a);
        assert_eq!(checks.view(a, Some("AA"), now).unwrap().terminal_state, None);
    }
}
