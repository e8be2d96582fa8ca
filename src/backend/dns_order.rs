//! What the DigiCert order backends (CertCentral, Qualys CertView) take from a Certificate:
//! a common name, DNS names and a validity in days (both order public TLS products, which carry
//! DNS names only); and what they read from a download: the leaf's serial.

use crate::api::CertificateSpec;
use crate::clients::error::ServiceError;
use crate::pki::{LeafInfo, certs_from_delivery};

/// DigiCert issues public TLS certificates for at most this many days.
pub const MAX_CERT_VALIDITY_DAYS: u32 = 397;

/// The Certificate's `duration` in whole days (rounded up).
pub fn requested_days(spec: &CertificateSpec) -> Option<u32> {
    let secs = std::time::Duration::from(spec.duration?).as_secs();
    Some(u32::try_from(secs.div_ceil(86_400).max(1)).unwrap_or(u32::MAX))
}

/// Why a requested duration is not what will be issued, if it is not.
pub fn capped_validity_note(service: &str, spec: &CertificateSpec) -> Option<String> {
    let days = requested_days(spec)?;
    (days > MAX_CERT_VALIDITY_DAYS).then(|| {
        format!(
            "{service} issues certificates for at most {MAX_CERT_VALIDITY_DAYS} days; {MAX_CERT_VALIDITY_DAYS} were asked for instead of {days}"
        )
    })
}

/// The order's common name and its other DNS names. A Certificate asking for IP addresses,
/// email addresses or URIs is refused before ordering.
pub fn names(service: &str, spec: &CertificateSpec) -> Result<(String, Vec<String>), ServiceError> {
    let other = [
        ("ipAddresses", spec.ip_addresses.as_ref()),
        ("emailAddresses", spec.email_addresses.as_ref()),
        ("uris", spec.uris.as_ref()),
    ];
    if let Some((field, _)) = other.iter().find(|(_, v)| v.is_some_and(|v| !v.is_empty())) {
        return Err(ServiceError::Config(format!(
            "{service} orders carry DNS names only; remove {field} or use another issuer"
        )));
    }
    let common_name = spec
        .request_common_name()
        .ok_or_else(|| ServiceError::Config(format!("{service} orders need a commonName or dnsNames")))?;
    let dns_names = spec
        .dns_names
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.eq_ignore_ascii_case(&common_name))
        .collect();
    Ok((common_name, dns_names))
}

/// The serial of a downloaded bundle's first (leaf) certificate.
pub fn leaf_serial(service: &'static str, bundle: &str) -> Result<String, ServiceError> {
    certs_from_delivery(bundle)
        .ok()
        .and_then(|certs| certs.first().and_then(|der| LeafInfo::parse(der).ok()))
        .map(|leaf| leaf.serial_hex)
        .ok_or_else(|| ServiceError::UnexpectedBody {
            service,
            endpoint: "download",
            reason: "the bundle's first certificate does not parse".into(),
        })
}
