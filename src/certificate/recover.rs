//! After a crash (or a submit whose answer was lost) a certificate may already have been ordered
//! for our next key. Before ordering again, look for it: TLM's search by common name and profile,
//! then each recent candidate's certificate compared with our key.

use k8s_openapi::jiff::Timestamp;

use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm::TlmClient;
use crate::clients::tlm_types::{CertStatus, SearchQuery};
use crate::pki::{PrivateKey, certs_from_delivery, spki_sha256_hex};

/// Newest candidates looked at; an order from before a crash is among the newest.
const CANDIDATES: usize = 5;

/// The serial of an issued certificate for `key`, if TLM has one.
pub async fn find_order_for_key(
    client: &TlmClient,
    profile_id: &str,
    common_name: Option<String>,
    key: &PrivateKey,
    issued_after: Option<Timestamp>,
) -> Result<Option<String>, ServiceError> {
    let query = SearchQuery {
        common_name,
        profile_id: Some(profile_id.to_string()),
        limit: Some(20),
        ..Default::default()
    };
    let page = match client.search(&query).await {
        Ok(page) => page,
        // A tenant without search cannot tell us; ordering again is the only way forward.
        Err(e) if matches!(e.class(), ErrorClass::NotFound | ErrorClass::InvalidInput) => {
            tracing::warn!(error = %e, "TLM search unavailable; cannot check for an earlier order");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let wanted = key.spki_sha256_hex();
    let serials = page
        .items
        .iter()
        .filter(|r| !matches!(r.cert_status(), CertStatus::Revoked | CertStatus::Rejected))
        .filter_map(|r| r.serial_number.clone())
        .take(CANDIDATES);
    for serial in serials {
        let record = client.status(&serial).await?;
        let Some(text) = record.certificate.as_deref() else {
            continue;
        };
        let Ok(certs) = certs_from_delivery(text) else {
            continue;
        };
        // With rotationPolicy Never the current certificate has the same key: only a newer one
        // can be the lost order.
        let matches = certs.iter().any(|der| {
            crate::pki::LeafInfo::parse(der).is_ok_and(|leaf| {
                spki_sha256_hex(&leaf.spki_der) == wanted && issued_after.is_none_or(|t| leaf.not_before > t)
            })
        });
        if matches {
            return Ok(Some(serial));
        }
    }
    Ok(None)
}
