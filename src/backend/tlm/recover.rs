//! After a crash (or a submit whose answer was lost) a certificate may already have been ordered
//! for our next key. Before ordering again, look for it: TLM's search, paged through every match
//! for our common name, profile and seat (the spec documents no order, so "the newest" is not
//! on any particular page), each issued item's certificate compared with our key.
//!
//! A request still waiting for approval has no certificate and is not searchable (the search
//! knows only issued, expired, revoked and suspended certificates). That case is covered by the
//! in-flight record written to status before such a submit (see `certificate/steps/order.rs`).

use k8s_openapi::jiff::Timestamp;

use crate::backend::FoundOrder;
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm::TlmClient;
use crate::clients::tlm_types::{CertificateState, SearchQuery};
use crate::pki::{LeafInfo, PrivateKey, certs_from_delivery, spki_sha256_hex};

/// Items without a certificate in the search answer are looked up one by one, at most this
/// many (a tenant whose search omits certificates still recovers the usual case).
const MAX_LOOKUPS: usize = 20;

/// What to search by.
pub struct Lookup<'a> {
    pub profile_id: &'a str,
    pub common_name: Option<String>,
    pub seat_id: Option<String>,
    pub key: &'a PrivateKey,
    /// Only certificates issued after this (with `rotationPolicy: Never` the current
    /// certificate has the same key and is not the lost order).
    pub issued_after: Option<Timestamp>,
}

/// The issued certificate for `key`, if TLM has one.
pub async fn find_order_for_key(
    client: &TlmClient,
    lookup: &Lookup<'_>,
) -> Result<Option<FoundOrder>, ServiceError> {
    let query = SearchQuery {
        common_name: lookup.common_name.clone(),
        profile_id: Some(lookup.profile_id.to_string()),
        seat_id: lookup.seat_id.clone(),
        status: Some("ISSUED".into()),
        ..Default::default()
    };
    let results = match client.search_all(&query).await {
        Ok(results) => results,
        // A tenant without search cannot tell us; ordering again is the only way forward.
        Err(e) if matches!(e.class(), ErrorClass::NotFound | ErrorClass::InvalidInput) => {
            tracing::warn!(error = %e, "TLM search unavailable; cannot check for an earlier order");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if results.truncated {
        tracing::warn!(
            read = results.items.len(),
            "TLM search matched more certificates than are read; an earlier order may be missed"
        );
    }
    let mut without_certificate = Vec::new();
    for item in &results.items {
        if item.state() != CertificateState::Issued {
            continue;
        }
        let Some(serial) = item.serial_number.clone() else {
            continue;
        };
        match &item.certificate {
            Some(text) if matches_key(text, lookup) => {
                return Ok(Some(FoundOrder::Issued {
                    serial,
                    certificate: text.clone(),
                }));
            }
            Some(_) => {}
            None => without_certificate.push(serial),
        }
    }
    for serial in without_certificate.into_iter().take(MAX_LOOKUPS) {
        let record = client.status(&serial).await?;
        if record.state() != CertificateState::Issued {
            continue;
        }
        if let Some(text) = record.certificate
            && matches_key(&text, lookup)
        {
            return Ok(Some(FoundOrder::Issued {
                serial,
                certificate: text,
            }));
        }
    }
    Ok(None)
}

fn matches_key(certificate: &str, lookup: &Lookup<'_>) -> bool {
    let wanted = lookup.key.spki_sha256_hex();
    let Ok(certs) = certs_from_delivery(certificate) else {
        return false;
    };
    certs.iter().any(|der| {
        LeafInfo::parse(der).is_ok_and(|leaf| {
            spki_sha256_hex(&leaf.spki_der) == wanted
                && lookup.issued_after.is_none_or(|t| leaf.not_before > t)
        })
    })
}
