//! One throttle (token bucket, concurrency cap, `Retry-After` gate) per Cert Spotter source
//! and credential. A shared throttle let one tenant silence every other: a 429 with a long
//! `Retry-After` from its own server, or its exhausted token, held every watch's queries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::Quota;
use secrecy::{ExposeSecret, SecretString};

use crate::clients::throttle::Throttle;
use crate::pki::sha256_hex;

/// Requests in flight at once to one source with one credential.
const CONCURRENCY_PER_SOURCE: usize = 4;
/// A throttle unused this long is dropped (its gate and bucket have long recovered).
const IDLE_LIMIT: Duration = Duration::from_secs(2 * 3600);

/// What a source's quota is counted against: the service sees the URL and the credential.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SourceKey {
    url: String,
    /// SHA-256 of the token, so the map never holds credentials; None when anonymous.
    credential: Option<String>,
}

impl SourceKey {
    pub fn new(url: &str, token: Option<&SecretString>) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            credential: token.map(|t| sha256_hex(t.expose_secret().as_bytes())),
        }
    }
}

pub struct SourceThrottles {
    quota: Quota,
    by_source: Mutex<HashMap<SourceKey, (Arc<Throttle>, Instant)>>,
}

impl SourceThrottles {
    /// Every source and credential gets its own bucket with `quota`.
    pub fn new(quota: Quota) -> Self {
        Self {
            quota,
            by_source: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &SourceKey) -> Arc<Throttle> {
        let mut map = self.by_source.lock().expect("source throttles lock");
        let now = Instant::now();
        map.retain(|_, (_, used)| now.duration_since(*used) < IDLE_LIMIT);
        let entry = map.entry(key.clone()).or_insert_with(|| {
            (
                Arc::new(Throttle::with_quota(self.quota, CONCURRENCY_PER_SOURCE)),
                now,
            )
        });
        entry.1 = now;
        entry.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn sources_and_credentials_do_not_share_a_gate() {
        let throttles = SourceThrottles::new(Quota::per_hour(NonZeroU32::new(10).expect("non-zero")));
        let hostile = SourceKey::new("http://127.0.0.1:1/", None);
        let healthy = SourceKey::new("http://127.0.0.1:2", None);
        let token = SecretString::from("t");
        let with_token = SourceKey::new("http://127.0.0.1:1", Some(&token));
        throttles.get(&hostile).hold_for(Duration::from_secs(3600));
        assert!(throttles.get(&hostile).held_for().is_some());
        assert!(
            throttles
                .get(&SourceKey::new("http://127.0.0.1:1", None))
                .held_for()
                .is_some(),
            "a trailing slash is the same source"
        );
        assert!(throttles.get(&healthy).held_for().is_none());
        assert!(throttles.get(&with_token).held_for().is_none());
    }
}
