//! The account's hourly query quota, per token, over a rolling hour.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct QuotaBook {
    queries: HashMap<String, VecDeque<Instant>>,
}

impl QuotaBook {
    /// Counts a query against `caller`'s quota, or says how long until one is free again.
    pub fn take(&mut self, caller: &str, per_hour: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let history = self.queries.entry(caller.to_string()).or_default();
        while history
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            history.pop_front();
        }
        if history.len() >= per_hour as usize {
            let oldest = history.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        history.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_the_query_after_the_quota() {
        let mut book = QuotaBook::default();
        assert!(book.take("t", 2).is_ok());
        assert!(book.take("t", 2).is_ok());
        let wait = book.take("t", 2).expect_err("third query is over quota");
        assert!(wait > Duration::from_secs(3500) && wait <= WINDOW);
        assert!(book.take("other", 2).is_ok(), "quota is per token");
    }
}
