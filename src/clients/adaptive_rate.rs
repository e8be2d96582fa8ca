//! A request rate that finds the service's limit instead of guessing it. DigiCert ONE publishes
//! per-API-key rate limits without numbers, so a fixed default is either slow or a 429 storm.
//! The rate starts where the old fixed default was, grows by a quarter after each full second's
//! worth of good answers while requests queue for it (routine checks at a trickle never raise
//! it) up to the configured ceiling, and halves (at most once a second) when
//! the service answers 429 or 5xx or stops answering in time. The `Retry-After` gate still holds
//! every request on top of this, so the rate never beats the service's own word.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Never slower than this: one request a second still lets an account recover and be probed.
const FLOOR: u32 = 1;
/// One halving per this long: the in-flight requests of one overload all answer 429, and that
/// is one signal, not eight.
const DECREASE_SPACING: Duration = Duration::from_secs(1);

pub struct AdaptiveRate {
    ceiling: u32,
    burst: u32,
    state: Mutex<State>,
}

struct State {
    rate: u32,
    good_answers: u32,
    /// A request waited for the rate since it last changed: there is demand for more.
    pressed: bool,
    last_decrease: Option<Instant>,
    limiter: Arc<DefaultDirectRateLimiter>,
}

/// What one answer says about the service's load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// Answered (any 2xx, or a 4xx other than 429): the rate is fine.
    Fine,
    /// 429, 5xx or a timeout: slow down.
    Overloaded,
    /// Says nothing about load (e.g. the connection was refused).
    Unknown,
}

impl Load {
    pub fn of_status(status: u16) -> Self {
        if status == 429 || status >= 500 {
            Load::Overloaded
        } else {
            Load::Fine
        }
    }
}

impl AdaptiveRate {
    /// Starts at `start` requests a second (at most `ceiling`), bursts of at most `burst`.
    pub fn new(start: u32, ceiling: u32, burst: u32) -> Self {
        let ceiling = ceiling.max(FLOOR);
        let rate = start.clamp(FLOOR, ceiling);
        Self {
            ceiling,
            burst: burst.max(1),
            state: Mutex::new(State {
                rate,
                good_answers: 0,
                pressed: false,
                last_decrease: None,
                limiter: Arc::new(limiter(rate, burst)),
            }),
        }
    }

    /// The limiter for the current rate (replaced whenever the rate changes).
    pub fn limiter(&self) -> Arc<DefaultDirectRateLimiter> {
        self.state.lock().expect("adaptive rate lock").limiter.clone()
    }

    /// A request had to wait for the rate.
    pub fn pressed(&self) {
        self.state.lock().expect("adaptive rate lock").pressed = true;
    }

    pub fn rate(&self) -> u32 {
        self.state.lock().expect("adaptive rate lock").rate
    }

    /// Learns from one answer; returns the new rate when it changed.
    pub fn record(&self, load: Load) -> Option<u32> {
        let mut state = self.state.lock().expect("adaptive rate lock");
        match load {
            Load::Unknown => None,
            Load::Fine => {
                state.good_answers = state.good_answers.saturating_add(1);
                if state.rate >= self.ceiling || state.good_answers < state.rate || !state.pressed {
                    return None;
                }
                let grown = state
                    .rate
                    .saturating_add((state.rate / 4).max(1))
                    .min(self.ceiling);
                Some(self.set(&mut state, grown))
            }
            Load::Overloaded => {
                state.good_answers = 0;
                let now = Instant::now();
                if state
                    .last_decrease
                    .is_some_and(|at| now.duration_since(at) < DECREASE_SPACING)
                {
                    return None;
                }
                state.last_decrease = Some(now);
                let halved = (state.rate / 2).max(FLOOR);
                (halved != state.rate).then(|| self.set(&mut state, halved))
            }
        }
    }

    fn set(&self, state: &mut State, rate: u32) -> u32 {
        state.rate = rate;
        state.good_answers = 0;
        state.pressed = false;
        let limiter = limiter(rate, self.burst);
        // A new limiter starts with a full burst; a changed rate is no quiet period, so it
        // starts empty (a halving must not let a burst through).
        let burst = std::num::NonZeroU32::new(self.burst.clamp(1, rate.max(1))).expect("burst is at least 1");
        let _ = limiter.check_n(burst);
        state.limiter = Arc::new(limiter);
        rate
    }
}

fn limiter(rate: u32, burst: u32) -> DefaultDirectRateLimiter {
    let per_second = std::num::NonZeroU32::new(rate.max(FLOOR)).expect("rate is at least the floor");
    let burst = std::num::NonZeroU32::new(burst.clamp(1, rate.max(1))).expect("burst is at least 1");
    RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_answers_grow_the_rate_to_the_ceiling_and_no_further() {
        let rate = AdaptiveRate::new(20, 100, 40);
        for _ in 0..100 {
            rate.record(Load::Fine);
        }
        assert_eq!(rate.rate(), 20, "answers without demand do not raise the rate");
        let mut answers = 0;
        while rate.rate() < 100 {
            rate.pressed();
            rate.record(Load::Fine);
            answers += 1;
            assert!(answers < 1_000, "never reached the ceiling");
        }
        // 20 → 25 → 31 → 38 → 47 → 58 → 72 → 90 → 100: each step after a second's worth.
        assert!(
            (350..450).contains(&answers),
            "{answers} answers to reach the ceiling"
        );
        for _ in 0..500 {
            assert_eq!(rate.record(Load::Fine), None);
        }
        assert_eq!(rate.rate(), 100);
    }

    #[test]
    fn overload_halves_once_per_second_and_never_below_the_floor() {
        let rate = AdaptiveRate::new(64, 100, 40);
        assert_eq!(rate.record(Load::Overloaded), Some(32));
        // The rest of the same burst of 429s says nothing new.
        assert_eq!(rate.record(Load::Overloaded), None);
        assert_eq!(rate.rate(), 32);
        let floor = AdaptiveRate::new(1, 100, 40);
        assert_eq!(floor.record(Load::Overloaded), None);
        assert_eq!(floor.rate(), 1);
    }

    #[test]
    fn an_overload_restarts_the_count_of_good_answers() {
        let rate = AdaptiveRate::new(10, 100, 10);
        rate.pressed();
        for _ in 0..9 {
            rate.record(Load::Fine);
        }
        rate.record(Load::Overloaded);
        assert_eq!(rate.rate(), 5);
        rate.pressed();
        for _ in 0..4 {
            assert_eq!(rate.record(Load::Fine), None);
        }
        assert_eq!(rate.record(Load::Fine), Some(6));
    }

    #[test]
    fn statuses_map_to_load() {
        assert_eq!(Load::of_status(200), Load::Fine);
        assert_eq!(Load::of_status(404), Load::Fine);
        assert_eq!(Load::of_status(429), Load::Overloaded);
        assert_eq!(Load::of_status(503), Load::Overloaded);
    }
}
