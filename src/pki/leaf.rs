//! What the operator needs to know about an issued certificate.

use k8s_openapi::jiff::Timestamp;
use x509_parser::prelude::*;

use super::{PkiError, fingerprint::sha256_hex};

/// Facts read from one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafInfo {
    /// Serial number, upper-case hex without separators (TLM's spelling).
    pub serial_hex: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub email_addresses: Vec<String>,
    pub uris: Vec<String>,
    /// DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// SHA-256 of the certificate DER, lowercase hex.
    pub thumbprint_sha256: String,
    pub issuer: String,
    pub subject: String,
}

impl LeafInfo {
    pub fn parse(der: &[u8]) -> Result<Self, PkiError> {
        let bad = |reason: String| PkiError::Certificate { index: 0, reason };
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
        let ts = |t: ASN1Time| Timestamp::from_second(t.timestamp()).map_err(|e| bad(e.to_string()));
        let mut info = LeafInfo {
            serial_hex: hex::encode_upper(cert.raw_serial()),
            not_before: ts(cert.validity().not_before)?,
            not_after: ts(cert.validity().not_after)?,
            common_name: cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            email_addresses: Vec::new(),
            uris: Vec::new(),
            spki_der: cert.public_key().raw.to_vec(),
            thumbprint_sha256: sha256_hex(der),
            issuer: cert.issuer().to_string(),
            subject: cert.subject().to_string(),
        };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(n) => info.dns_names.push(n.to_string()),
                    GeneralName::RFC822Name(n) => info.email_addresses.push(n.to_string()),
                    GeneralName::URI(n) => info.uris.push(n.to_string()),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            info.ip_addresses.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(info)
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}
