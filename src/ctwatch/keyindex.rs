//! The public keys this operator generated: SPKI SHA-256 of every key in the Secrets it owns
//! (target Secrets and next-key Secrets alike), as Cert Spotter reports `pubkey_sha256`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::Store;

use crate::pki::PrivateKey;

/// Parsing a key costs more than looking it up: remember each Secret version's key hash.
#[derive(Default)]
pub struct ManagedKeyIndex {
    parsed: Mutex<HashMap<(String, String), Option<String>>>,
}

impl ManagedKeyIndex {
    pub fn keys(&self, stores: &[Store<Secret>]) -> HashSet<String> {
        let mut cache = self.parsed.lock().expect("key index lock");
        let mut live = HashSet::new();
        let mut out = HashSet::new();
        for store in stores {
            for secret in store.state() {
                let id = (
                    secret.metadata.uid.clone().unwrap_or_default(),
                    secret.metadata.resource_version.clone().unwrap_or_default(),
                );
                let hash = cache.entry(id.clone()).or_insert_with(|| key_hash(&secret));
                if let Some(h) = hash {
                    out.insert(h.clone());
                }
                live.insert(id);
            }
        }
        cache.retain(|id, _| live.contains(id));
        out
    }
}

fn key_hash(secret: &Secret) -> Option<String> {
    let ByteString(pem) = secret.data.as_ref()?.get("tls.key")?;
    let pem = std::str::from_utf8(pem).ok()?;
    PrivateKey::from_pem(pem).ok().map(|k| k.spki_sha256_hex())
}
