//! Backoff after a failed CTWatch status write. Without it a watch whose write failed stays
//! due, and the poller re-queried the source and re-wrote every second for as long as the
//! apiserver refused (a status too large, a webhook, an outage).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_secs(2);
const MAX: Duration = Duration::from_secs(300);

/// (namespace, name) of a watch.
pub type WatchId = (String, String);

#[derive(Default)]
pub struct WriteBackoff {
    failing: Mutex<HashMap<WatchId, (u32, Instant)>>,
}

impl WriteBackoff {
    /// True while the watch's last write failed recently: it is not polled meanwhile.
    pub fn holds(&self, id: &WatchId) -> bool {
        let failing = self.failing.lock().expect("backoff lock");
        failing.get(id).is_some_and(|(_, until)| Instant::now() < *until)
    }

    pub fn failed(&self, id: WatchId) {
        let mut failing = self.failing.lock().expect("backoff lock");
        let entry = failing.entry(id).or_insert((0, Instant::now()));
        entry.0 = entry.0.saturating_add(1);
        let wait = FIRST
            .saturating_mul(2u32.saturating_pow(entry.0.saturating_sub(1).min(16)))
            .min(MAX);
        entry.1 = Instant::now() + wait;
    }

    pub fn succeeded(&self, id: &WatchId) {
        self.failing.lock().expect("backoff lock").remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_hold_and_success_releases() {
        let backoff = WriteBackoff::default();
        let id: WatchId = ("ns".into(), "w".into());
        assert!(!backoff.holds(&id));
        for _ in 0..40 {
            backoff.failed(id.clone());
        }
        assert!(backoff.holds(&id), "many failures never overflow the wait");
        backoff.succeeded(&id);
        assert!(!backoff.holds(&id));
    }
}
