//! Waits a Cert Spotter source asks for, made safe to add to clocks. A source is chosen by
//! whoever creates a CTWatch, so `Retry-After: 99999999999999` or a date in year 9999 is
//! hostile input: it must neither overflow `Timestamp`/`Instant` arithmetic nor park a watch
//! for longer than an hour.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The longest wait any source may impose on a watch.
pub const MAX_SERVICE_WAIT: Duration = Duration::from_secs(3600);

/// A wait a source asked for, after clamping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceWait {
    pub wait: Option<Duration>,
    /// The source asked for [`MAX_SERVICE_WAIT`] or more (a client may already have cut a
    /// longer wait down to exactly that).
    pub clamped: bool,
}

impl ServiceWait {
    pub fn clamp(asked: Option<Duration>) -> Self {
        match asked {
            Some(wait) if wait >= MAX_SERVICE_WAIT => Self {
                wait: Some(MAX_SERVICE_WAIT),
                clamped: true,
            },
            wait => Self { wait, clamped: false },
        }
    }

    /// The longer of two waits; clamped when either was.
    pub fn max(self, other: Self) -> Self {
        Self {
            wait: self.wait.max(other.wait),
            clamped: self.clamped || other.clamped,
        }
    }

    /// Words for a condition message, when the wait was clamped.
    pub fn clamp_note(&self) -> Option<String> {
        self.clamped.then(|| {
            format!(
                "the source asked to wait {}s or longer; the wait was clamped to {}s",
                MAX_SERVICE_WAIT.as_secs(),
                MAX_SERVICE_WAIT.as_secs()
            )
        })
    }
}

/// `now + after`, saturating at the largest representable time instead of panicking.
pub fn after(now: Timestamp, after: Duration) -> Timestamp {
    SignedDuration::try_from(after)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_waits_are_clamped_and_never_overflow() {
        let huge = Some(Duration::from_secs(99_999_999_999_999));
        let w = ServiceWait::clamp(huge);
        assert_eq!(w.wait, Some(MAX_SERVICE_WAIT));
        assert!(w.clamped && w.clamp_note().is_some());
        let small = ServiceWait::clamp(Some(Duration::from_secs(5)));
        assert_eq!((small.wait, small.clamped), (Some(Duration::from_secs(5)), false));
        assert!(small.max(w).clamped);
        let now = Timestamp::now();
        assert_eq!(after(now, Duration::MAX), Timestamp::MAX);
        assert_eq!(
            after(now, Duration::from_secs(99_999_999_999_999)),
            Timestamp::MAX
        );
        assert!(after(now, Duration::from_secs(1)) > now);
    }
}
