//! Finding the certificate a client means by serial number. Serials are not unique in TLM, so
//! renew and revoke take `thumbprint_sha256` to pick one and refuse to guess without it.

use crate::errors::ApiError;
use crate::options::ApiKeyGrant;
use crate::tlm::auth::authorize;
use crate::tlm::paging::query_pairs;
use crate::tlm::store::CertificateStore;

/// TLM's message for an ambiguous serial (DigiCert's spec quotes it).
pub const COLLISION_MESSAGE: &str =
    "Collision occurred! Please specify additional parameter: thumbprint_sha256";

fn not_found(serial: &str) -> ApiError {
    ApiError::not_found(format!("certificate {serial} not found"))
}

/// The certificate `GET /certificate/{serial}` reports: the newest one with that serial.
pub fn newest(store: &CertificateStore, serial: &str, grant: &ApiKeyGrant) -> Result<usize, ApiError> {
    let index = store
        .newest_with_serial(serial)
        .ok_or_else(|| not_found(serial))?;
    let record = store.certificate(index).ok_or_else(|| not_found(serial))?;
    authorize(grant, record.profile_id)?;
    Ok(index)
}

/// The certificate renew or revoke acts on: the only one with that serial, or the one whose
/// SHA-256 thumbprint matches `thumbprint_sha256` (any case).
pub fn exact(
    store: &CertificateStore,
    serial: &str,
    thumbprint: Option<&str>,
    grant: &ApiKeyGrant,
) -> Result<usize, ApiError> {
    let candidates = store.with_serial(serial);
    let first = candidates
        .first()
        .and_then(|&i| store.certificate(i))
        .ok_or_else(|| not_found(serial))?;
    authorize(grant, first.profile_id)?;
    match thumbprint {
        Some(thumbprint) => candidates
            .into_iter()
            .find(|&i| {
                store
                    .certificate(i)
                    .is_some_and(|r| r.certificate.thumbprint.eq_ignore_ascii_case(thumbprint.trim()))
            })
            .ok_or_else(|| not_found(&format!("{serial} with thumbprint {thumbprint}"))),
        None if candidates.len() > 1 => Err(ApiError::invalid_input(COLLISION_MESSAGE)),
        None => Ok(candidates[0]),
    }
}

/// The `thumbprint_sha256` query parameter, if any.
pub fn thumbprint_param(raw_query: Option<&str>) -> Option<String> {
    query_pairs(raw_query)
        .into_iter()
        .find(|(key, value)| key == "thumbprint_sha256" && !value.trim().is_empty())
        .map(|(_, value)| value)
}
