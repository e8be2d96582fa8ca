//! What the last health check of each issuer saw, so an unchanged issuer does not call the
//! service again. Kept in `Context` (one per scope); imports nothing from `context`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::backend::registry::IssuerKey;

#[derive(Default)]
pub struct CheckMemory {
    inner: Mutex<HashMap<IssuerKey, LastCheck>>,
}

#[derive(Clone)]
pub struct LastCheck {
    /// Of what shaped the client (URL, CA bundle, API key).
    pub fingerprint: String,
    pub generation: Option<i64>,
    pub at: Instant,
    pub ready: bool,
}

impl CheckMemory {
    pub fn last(&self, key: &IssuerKey) -> Option<LastCheck> {
        self.inner.lock().expect("issuer checks lock").get(key).cloned()
    }

    pub fn record(&self, key: IssuerKey, check: LastCheck) {
        self.inner.lock().expect("issuer checks lock").insert(key, check);
    }
}
