//! Retry policy shared by the clients: exponential backoff with jitter (backon), never sooner
//! than a `Retry-After`, and never waiting inline for long: a long `Retry-After` goes back to
//! the caller, who requeues instead of holding a worker.

use std::time::Duration;

use backon::ExponentialBuilder;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for inside the call.
    pub max_inline_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_inline_wait: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all (for callers that handle failures themselves).
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    pub fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_jitter()
    }

    /// The delay before the next attempt: the backoff's, but at least what the service asked.
    pub fn delay_with(&self, backoff: Option<Duration>, retry_after: Option<Duration>) -> Option<Duration> {
        match (backoff, retry_after) {
            (Some(b), Some(ra)) => Some(b.max(ra)),
            (b, _) => b,
        }
    }
}
