//! The public keys this operator generated, as Cert Spotter reports them (`pubkey_sha256`, the
//! SHA-256 of the SPKI DER), taken from what the operator itself recorded in Certificate
//! status: the key of the issued certificate and the key of an order in flight.
//!
//! Not from Secrets: a label such as `app.kubernetes.io/managed-by=tlm-operator` can be
//! written by anyone who may create a Secret, and a forged Secret would make a rogue
//! certificate for its key look expected to every tenant's watch. Certificate status is
//! written only through the status subresource, by the operator.

use std::collections::HashSet;

use kube::runtime::reflector::Store;

use crate::api::CertificateStatus;
use crate::certificate::cached::CachedCertificate;

/// Lower-case hex SHA-256, as Cert Spotter and the operator spell it.
fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every managed key hash in `stores`, lower-case.
pub fn managed_keys(stores: &[Store<CachedCertificate>]) -> HashSet<String> {
    let mut keys = HashSet::new();
    for store in stores {
        for cert in store.state() {
            // The cache packed this status from JSON it had just parsed: unpacking fails only
            // on a bug, and would cost this Certificate's keys, nothing else.
            if let Ok(Some(status)) = cert.status() {
                keys.extend(recorded_keys(&status));
            }
        }
    }
    keys
}

/// The key hashes one Certificate status records.
fn recorded_keys(status: &CertificateStatus) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(pending) = &status.pending_request {
        keys.push(pending.public_key_sha256.clone());
    }
    if let Some(issued) = &status.public_key_sha256 {
        keys.push(issued.clone());
    }
    keys.into_iter()
        .filter(|k| is_sha256_hex(k))
        .map(|k| k.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_status_only() {
        let key = "AB".repeat(32);
        let status: CertificateStatus = serde_json::from_value(serde_json::json!({
            "pendingRequest": {"publicKeySha256": key, "generation": 1, "submittedAt": "2026-01-01T00:00:00Z"}
        }))
        .expect("status");
        assert_eq!(recorded_keys(&status), vec!["ab".repeat(32)]);
        let junk: CertificateStatus = serde_json::from_value(serde_json::json!({
            "pendingRequest": {"publicKeySha256": "not-a-hash", "generation": 1, "submittedAt": "2026-01-01T00:00:00Z"}
        }))
        .expect("status");
        assert!(recorded_keys(&junk).is_empty());
    }
}
