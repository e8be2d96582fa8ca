//! Per-client protection of a service account: a token-bucket rate limit, a concurrency cap, a
//! gate that holds every request until a `Retry-After` the service sent has passed, and turns
//! shared round-robin between the tenants that use the account.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::adaptive_rate::{AdaptiveRate, Load};
use super::fair_turns::{FairTurns, Tenant};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Limits for one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Sustained requests per second: the ceiling when the rate adapts.
    pub requests_per_second: NonZeroU32,
    /// Adapt the rate to the service's answers, starting here (None: always the ceiling).
    pub start_per_second: Option<NonZeroU32>,
    /// Requests that may go at once after a quiet period.
    pub burst: NonZeroU32,
    /// Requests in flight at once.
    pub max_concurrency: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            requests_per_second: NonZeroU32::new(100).expect("non-zero"),
            start_per_second: NonZeroU32::new(20),
            burst: NonZeroU32::new(40).expect("non-zero"),
            max_concurrency: 16,
        }
    }
}

pub struct Throttle {
    turns: FairTurns,
    limiter: Limiter,
    in_flight: Semaphore,
    not_before: Mutex<Option<Instant>>,
}

enum Limiter {
    Fixed(DefaultDirectRateLimiter),
    Adaptive(AdaptiveRate),
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Self {
        let Some(start) = settings.start_per_second else {
            let quota = Quota::per_second(settings.requests_per_second).allow_burst(settings.burst);
            return Self::with_quota(quota, settings.max_concurrency);
        };
        let rate = AdaptiveRate::new(
            start.get(),
            settings.requests_per_second.get(),
            settings.burst.get(),
        );
        Self::with_limiter(Limiter::Adaptive(rate), settings.max_concurrency)
    }

    /// Any governor quota, e.g. Cert Spotter's queries per hour.
    pub fn with_quota(quota: Quota, max_concurrency: usize) -> Self {
        Self::with_limiter(Limiter::Fixed(RateLimiter::direct(quota)), max_concurrency)
    }

    fn with_limiter(limiter: Limiter, max_concurrency: usize) -> Self {
        Self {
            turns: FairTurns::default(),
            limiter,
            in_flight: Semaphore::new(max_concurrency.max(1)),
            not_before: Mutex::new(None),
        }
    }

    /// Waits until a request may be sent; the permit is held until the response is read. Only
    /// the holder of the tenant's turn waits on the limits, so the budget is shared round-robin.
    pub async fn admit(&self, tenant: &Tenant) -> SemaphorePermit<'_> {
        let _turn = self.turns.take(tenant).await;
        loop {
            self.wait_for_gate().await;
            let permit = self.in_flight.acquire().await.expect("semaphore is never closed");
            match &self.limiter {
                Limiter::Fixed(limiter) => limiter.until_ready().await,
                Limiter::Adaptive(rate) => {
                    let limiter = rate.limiter();
                    if limiter.check().is_err() {
                        rate.pressed();
                        limiter.until_ready().await;
                    }
                }
            }
            // A Retry-After may have arrived while this request waited for its turn.
            if self.gate_deadline().is_none_or(|at| at <= Instant::now()) {
                return permit;
            }
        }
    }

    /// Learns from one answer (adaptive rates only); returns the new rate when it changed.
    pub fn record(&self, load: Load) -> Option<u32> {
        match &self.limiter {
            Limiter::Fixed(_) => None,
            Limiter::Adaptive(rate) => rate.record(load),
        }
    }

    /// The current requests per second of an adaptive rate.
    pub fn current_rate(&self) -> Option<u32> {
        match &self.limiter {
            Limiter::Fixed(_) => None,
            Limiter::Adaptive(rate) => Some(rate.rate()),
        }
    }

    /// Holds every request of this client until `delay` has passed.
    pub fn hold_for(&self, delay: Duration) {
        // Callers clamp service-given waits; checked arithmetic keeps any other delay from
        // overflowing the clock (a panic here would take the whole controller down).
        let delay = delay.min(super::http::MAX_RETRY_AFTER);
        let Some(until) = Instant::now().checked_add(delay) else {
            return;
        };
        let mut gate = self.not_before.lock().expect("gate lock");
        if gate.is_none_or(|current| current < until) {
            *gate = Some(until);
        }
    }

    /// Time left until the gate opens, if it is closed.
    pub fn held_for(&self) -> Option<Duration> {
        self.gate_deadline()
            .and_then(|at| at.checked_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    fn gate_deadline(&self) -> Option<Instant> {
        *self.not_before.lock().expect("gate lock")
    }

    async fn wait_for_gate(&self) {
        while let Some(at) = self.gate_deadline() {
            if at <= Instant::now() {
                break;
            }
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn anyone() -> Tenant {
        Tenant::from("")
    }

    #[tokio::test(start_paused = true)]
    async fn gate_holds_requests_until_retry_after() {
        let throttle = Throttle::new(ThrottleSettings::default());
        let start = Instant::now();
        throttle.hold_for(Duration::from_secs(3));
        let _permit = throttle.admit(&anyone()).await;
        assert!(start.elapsed() >= Duration::from_secs(3));
        assert!(throttle.held_for().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn shorter_hold_does_not_shorten_a_longer_one() {
        let throttle = Throttle::new(ThrottleSettings::default());
        throttle.hold_for(Duration::from_secs(10));
        throttle.hold_for(Duration::from_secs(1));
        assert!(throttle.held_for().unwrap() > Duration::from_secs(9));
    }

    #[tokio::test]
    async fn concurrency_is_capped() {
        let settings = ThrottleSettings {
            max_concurrency: 2,
            ..Default::default()
        };
        let throttle = Throttle::new(settings);
        let a = throttle.admit(&anyone()).await;
        let _b = throttle.admit(&anyone()).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(50), throttle.admit(&anyone()))
                .await
                .is_err()
        );
        drop(a);
        assert!(
            tokio::time::timeout(Duration::from_millis(500), throttle.admit(&anyone()))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_shared_budget_serves_a_quiet_tenant_next() {
        let settings = ThrottleSettings {
            requests_per_second: NonZeroU32::new(100).expect("non-zero"),
            start_per_second: None,
            burst: NonZeroU32::new(1).expect("non-zero"),
            max_concurrency: 4,
        };
        let throttle = Arc::new(Throttle::new(settings));
        let order = Arc::new(Mutex::new(Vec::new()));
        let admit = |name: &'static str| {
            let (throttle, order) = (throttle.clone(), order.clone());
            tokio::spawn(async move {
                drop(throttle.admit(&Tenant::from(name)).await);
                order.lock().unwrap().push(name);
            })
        };
        let mut tasks: Vec<_> = (0..30).map(|_| admit("busy")).collect();
        while throttle.turns.waiting() < 20 {
            tokio::task::yield_now().await;
        }
        tasks.push(admit("quiet"));
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap();
        let served = order.iter().position(|n| *n == "quiet").unwrap();
        // Only requests already holding the turn or admitted go first: one turn, not 20+.
        assert!(served <= 12, "quiet tenant admitted {served}th: {order:?}");
    }
}
