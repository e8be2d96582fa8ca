//! What the simulator saw: per-endpoint counts, orders per key, Cert Spotter query shapes and a
//! bounded request log. Benchmarks and tests read it through `GET /sim/counters`.

use std::collections::{BTreeMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::endpoints::Endpoint;

pub const LOG_CAPACITY: usize = 10_000;

/// The status recorded for a request whose connection was dropped without an answer.
pub const DROPPED_STATUS: u16 = 0;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub requests: BTreeMap<String, u64>,
    /// Keyed `endpoint:status`; a dropped connection is `endpoint:dropped`.
    pub responses: BTreeMap<String, u64>,
    /// SHA-256 (hex) of the SPKI DER of every accepted submit or renew (TLM), order or reissue
    /// (CertCentral) and enrollment request (Qualys).
    pub orders_by_public_key: BTreeMap<String, u64>,
    pub early_requests: u64,
    /// Keyed by the sorted, comma-joined domain set of each answered query.
    pub certspotter_queries_by_domains: BTreeMap<String, u64>,
    pub log: Vec<LogEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub endpoint: String,
    pub method: String,
    pub path: String,
    /// `0` when the connection was dropped.
    pub status: u16,
    pub at_ms: u64,
    /// The answer was a 429 with `Retry-After` (injected, quota, or a repeat inside a window).
    pub throttled: bool,
}

#[derive(Default)]
pub struct CounterBook {
    requests: BTreeMap<String, u64>,
    responses: BTreeMap<String, u64>,
    orders_by_public_key: BTreeMap<String, u64>,
    early_requests: u64,
    certspotter_queries_by_domains: BTreeMap<String, u64>,
    log: VecDeque<LogEntry>,
}

pub struct Answered<'a> {
    pub endpoint: Endpoint,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub throttled: bool,
}

impl CounterBook {
    pub fn request(&mut self, endpoint: Endpoint) {
        *self.requests.entry(endpoint.name().to_string()).or_default() += 1;
    }

    pub fn answered(&mut self, answer: Answered<'_>) {
        let outcome = match answer.status {
            DROPPED_STATUS => "dropped".to_string(),
            status => status.to_string(),
        };
        *self
            .responses
            .entry(format!("{}:{outcome}", answer.endpoint.name()))
            .or_default() += 1;
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry {
            endpoint: answer.endpoint.name().to_string(),
            method: answer.method.to_string(),
            path: answer.path.to_string(),
            status: answer.status,
            at_ms: now_ms(),
            throttled: answer.throttled,
        });
    }

    pub fn early_request(&mut self) {
        self.early_requests += 1;
    }

    pub fn order(&mut self, public_key_sha256: &str) {
        *self
            .orders_by_public_key
            .entry(public_key_sha256.to_string())
            .or_default() += 1;
    }

    pub fn certspotter_query(&mut self, domains: &[String]) {
        let mut set: Vec<&str> = domains.iter().map(String::as_str).collect();
        set.sort_unstable();
        set.dedup();
        *self
            .certspotter_queries_by_domains
            .entry(set.join(","))
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> Counters {
        Counters {
            requests: self.requests.clone(),
            responses: self.responses.clone(),
            orders_by_public_key: self.orders_by_public_key.clone(),
            early_requests: self.early_requests,
            certspotter_queries_by_domains: self.certspotter_queries_by_domains.clone(),
            log: self.log.iter().cloned().collect(),
        }
    }

    pub fn reset(&mut self) {
        *self = CounterBook::default();
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_is_bounded() {
        let mut book = CounterBook::default();
        for _ in 0..LOG_CAPACITY + 5 {
            book.answered(Answered {
                endpoint: Endpoint::Status,
                method: "GET",
                path: "/x",
                status: 200,
                throttled: false,
            });
        }
        let counters = book.snapshot();
        assert_eq!(counters.log.len(), LOG_CAPACITY);
        assert_eq!(counters.responses["status:200"], (LOG_CAPACITY + 5) as u64);
    }

    #[test]
    fn domain_sets_are_sorted_and_deduplicated() {
        let mut book = CounterBook::default();
        book.certspotter_query(&["b.com".into(), "a.com".into(), "b.com".into()]);
        book.certspotter_query(&["a.com".into(), "b.com".into()]);
        assert_eq!(book.snapshot().certspotter_queries_by_domains["a.com,b.com"], 2);
    }

    #[test]
    fn dropped_requests_have_their_own_key() {
        let mut book = CounterBook::default();
        book.answered(Answered {
            endpoint: Endpoint::Submit,
            method: "POST",
            path: "/p",
            status: DROPPED_STATUS,
            throttled: false,
        });
        assert_eq!(book.snapshot().responses["submit:dropped"], 1);
    }
}
