//! The published per-key limits (1,000 requests / 3 min and 100 / 5 s, rolling windows). A
//! refused request is not counted; the 429 names no `Retry-After`, as the rate-limit page shows.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct RateBook {
    seen: HashMap<String, VecDeque<Instant>>,
}

impl RateBook {
    /// Counts a request by `key` now; false when any window is already full.
    pub fn admit(&mut self, key: &str, limits: &[(u32, Duration)]) -> bool {
        let now = Instant::now();
        let longest = limits.iter().map(|(_, w)| *w).max().unwrap_or_default();
        let seen = self.seen.entry(key.to_string()).or_default();
        while seen.front().is_some_and(|at| now.duration_since(*at) >= longest) {
            seen.pop_front();
        }
        let full = limits.iter().any(|(limit, window)| {
            let recent = seen
                .iter()
                .rev()
                .take_while(|at| now.duration_since(**at) < *window)
                .count();
            recent >= *limit as usize
        });
        if !full {
            seen.push_back(now);
        }
        !full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_window_counts_for_itself_and_keys_are_separate() {
        let limits = [(2, Duration::from_millis(200)), (3, Duration::from_secs(60))];
        let mut book = RateBook::default();
        assert!(book.admit("a", &limits));
        assert!(book.admit("a", &limits));
        assert!(!book.admit("a", &limits), "short window full");
        assert!(book.admit("b", &limits), "another key has its own windows");
        std::thread::sleep(Duration::from_millis(220));
        assert!(book.admit("a", &limits));
        assert!(!book.admit("a", &limits), "long window full");
    }
}
