//! Parsing and verifying PKCS#10 CSRs: the leaf must carry exactly the key that signed the CSR.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::SubjectPublicKeyInfo;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_SIG_ED25519};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::digest::sha256_hex;
use crate::names::SubjectAltNames;

/// The key algorithm of a CSR, as TLM reports it (`signature_algorithm` + `key_size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa { bits: u32 },
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl KeyKind {
    pub fn algorithm_name(self) -> &'static str {
        match self {
            KeyKind::Rsa { .. } => "RSA",
            KeyKind::EcdsaP256 | KeyKind::EcdsaP384 => "ECDSA",
            KeyKind::Ed25519 => "Ed25519",
        }
    }

    pub fn size_bits(self) -> u32 {
        match self {
            KeyKind::Rsa { bits } => bits,
            KeyKind::EcdsaP256 | KeyKind::Ed25519 => 256,
            KeyKind::EcdsaP384 => 384,
        }
    }
}

/// A CSR whose signature checked out, reduced to what issuance needs.
#[derive(Clone, Debug)]
pub struct VerifiedCsr {
    pub public_key: SubjectPublicKeyInfo,
    pub spki_sha256: String,
    pub key: KeyKind,
    pub common_name: Option<String>,
    pub sans: SubjectAltNames,
}

#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    #[error("CSR is neither PEM ('-----BEGIN CERTIFICATE REQUEST-----') nor base64 DER")]
    NotPem,
    #[error("CSR is not a valid PKCS#10 request")]
    Unparsable,
    #[error("CSR signature does not verify")]
    BadSignature,
    #[error("CSR key type is not supported (RSA 2048-8192, ECDSA P-256/P-384 and Ed25519 are)")]
    UnsupportedKey,
}

/// A CSR as clients send it: PEM, or the bare base64 of its DER (several of DigiCert's own
/// scripts strip the armour and newlines).
pub fn verify_csr_text(text: &str) -> Result<VerifiedCsr, CsrError> {
    if text.contains("-----BEGIN") {
        return verify_csr_pem(text);
    }
    let compact: String = text.split_whitespace().collect();
    let der = STANDARD.decode(compact).map_err(|_| CsrError::NotPem)?;
    verify_csr_der(&der)
}

pub fn verify_csr_pem(text: &str) -> Result<VerifiedCsr, CsrError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(text.trim().as_bytes()).map_err(|_| CsrError::NotPem)?;
    if pem.label != "CERTIFICATE REQUEST" && pem.label != "NEW CERTIFICATE REQUEST" {
        return Err(CsrError::NotPem);
    }
    verify_csr_der(&pem.contents)
}

pub fn verify_csr_der(der: &[u8]) -> Result<VerifiedCsr, CsrError> {
    let (rest, csr) = X509CertificationRequest::from_der(der).map_err(|_| CsrError::Unparsable)?;
    if !rest.is_empty() {
        return Err(CsrError::Unparsable);
    }
    csr.verify_signature().map_err(|_| CsrError::BadSignature)?;
    let info = &csr.certification_request_info;
    let spki = &info.subject_pki;
    let key = key_kind(spki).ok_or(CsrError::UnsupportedKey)?;
    // Re-encoding through rcgen keeps the algorithm identifier of the CSR's key itself (not of the
    // CSR's signature algorithm), so a P-384 key signed with SHA-256 still becomes a P-384 leaf.
    let public_key = SubjectPublicKeyInfo::from_der(spki.raw).map_err(|_| CsrError::UnsupportedKey)?;
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(String::from);
    Ok(VerifiedCsr {
        public_key,
        spki_sha256: sha256_hex(spki.raw),
        key,
        common_name,
        sans: requested_sans(&csr),
    })
}

fn key_kind(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Option<KeyKind> {
    if spki.algorithm.algorithm == OID_SIG_ED25519 {
        return Some(KeyKind::Ed25519);
    }
    if spki.algorithm.algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
        return match curve {
            c if c == OID_EC_P256 => Some(KeyKind::EcdsaP256),
            c if c == OID_NIST_EC_P384 => Some(KeyKind::EcdsaP384),
            _ => None,
        };
    }
    match spki.parsed().ok()? {
        PublicKey::RSA(rsa) => {
            let bits = rsa.key_size() as u32;
            (2048..=8192).contains(&bits).then_some(KeyKind::Rsa { bits })
        }
        _ => None,
    }
}

/// SANs requested in the CSR's extensionRequest; other requested extensions are ignored, as a CA
/// decides those itself.
fn requested_sans(csr: &X509CertificationRequest<'_>) -> SubjectAltNames {
    let mut sans = SubjectAltNames::default();
    let Some(extensions) = csr.requested_extensions() else {
        return sans;
    };
    for extension in extensions {
        let ParsedExtension::SubjectAlternativeName(san) = extension else {
            continue;
        };
        for name in &san.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.dns_names.push(dns.to_string()),
                GeneralName::RFC822Name(email) => sans.emails.push(email.to_string()),
                GeneralName::URI(uri) => sans.uris.push(uri.to_string()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        sans.ip_addresses.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    sans
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, PublicKeyData};

    fn csr_for(key: &KeyPair, names: &[&str]) -> String {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "csr.example");
        params.serialize_request(key).expect("csr").pem().expect("pem")
    }

    #[test]
    fn reads_key_cn_and_sans() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("key");
        let csr = verify_csr_pem(&csr_for(&key, &["a.example", "10.0.0.1"])).expect("valid csr");
        assert_eq!(csr.key, KeyKind::Ed25519);
        assert_eq!(csr.common_name.as_deref(), Some("csr.example"));
        assert_eq!(csr.sans.dns_names, vec!["a.example"]);
        assert_eq!(
            csr.sans.ip_addresses,
            vec!["10.0.0.1".parse::<IpAddr>().expect("ip")]
        );
        assert_eq!(csr.public_key.der_bytes(), key.der_bytes());
        assert_eq!(csr.spki_sha256, sha256_hex(&key.subject_public_key_info()));
    }

    #[test]
    fn bare_base64_der_is_a_csr_too() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let pem = csr_for(&key, &["a.example"]);
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        let bare = STANDARD.encode(&parsed.contents);
        let csr = verify_csr_text(&bare).expect("bare base64");
        assert_eq!(csr.public_key.der_bytes(), key.der_bytes());
        assert!(verify_csr_text(&pem).is_ok());
        assert!(matches!(verify_csr_text("not base64!"), Err(CsrError::NotPem)));
        assert!(matches!(verify_csr_text("AAAA"), Err(CsrError::Unparsable)));
    }

    #[test]
    fn rejects_garbage_and_tampering() {
        assert!(matches!(verify_csr_pem("hello"), Err(CsrError::NotPem)));
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let pem = csr_for(&key, &["a.example"]);
        let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        let mut der = parsed.contents.clone();
        // Flip one byte inside the signed subject: the signature must no longer verify.
        let at = der
            .windows(9)
            .position(|w| w == b"a.example")
            .expect("san in der");
        der[at] = b'b';
        assert!(matches!(verify_csr_der(&der), Err(CsrError::BadSignature)));
        assert!(matches!(
            verify_csr_der(&der[..der.len() / 2]),
            Err(CsrError::Unparsable)
        ));
    }
}
