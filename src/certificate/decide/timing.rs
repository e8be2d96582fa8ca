//! How long `decide` waits: failure backoff and poll intervals. Pure arithmetic on the inputs.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::Inputs;

/// First and longest pause after a permanent failure (cert-manager backs off from 1h; we start
/// lower because TLM failures are often fixed within minutes, e.g. a profile setting).
const FAILURE_BACKOFF_BASE: Duration = Duration::from_secs(5 * 60);
pub(super) const FAILURE_BACKOFF_MAX: Duration = Duration::from_secs(24 * 3600);

pub(super) fn failure_backoff_remaining(i: &Inputs<'_>) -> Option<Duration> {
    let attempts = i.status.failed_issuance_attempts.unwrap_or(0);
    let last = i.status.last_failure_time.as_ref()?.0;
    // A spec change since the failure clears the backoff.
    if attempts <= 0 || i.status.observed_generation != Some(i.generation) {
        return None;
    }
    let backoff = failure_backoff(attempts as u32);
    let retry_at = last + SignedDuration::try_from(backoff).ok()?;
    (i.now < retry_at).then(|| until(i.now, retry_at))
}

/// Pause after the n-th consecutive permanent failure: 5m, 10m, 20m ... capped at 24h.
pub fn failure_backoff(attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
    FAILURE_BACKOFF_BASE
        .saturating_mul(factor)
        .min(FAILURE_BACKOFF_MAX)
}

/// How long to wait between polls of a pending request: a quarter of its age, between 2s and
/// 1h, so a request approved in seconds is seen in seconds and one pending for days is polled
/// hourly.
pub fn poll_interval(age: Duration) -> Duration {
    (age / 4).clamp(Duration::from_secs(2), Duration::from_secs(3600))
}

pub(super) fn poll_wait(i: &Inputs<'_>, submitted_at: Timestamp) -> Option<Duration> {
    let last = i.last_poll?;
    let age = until(submitted_at, i.now);
    let due = last + SignedDuration::try_from(poll_interval(age)).ok()?;
    (i.now < due).then(|| until(i.now, due))
}

pub(super) fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}
