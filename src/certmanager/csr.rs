//! Reading the CSR of a CertificateRequest: its signature, public key, subject and names.
//! TLM is sent the CSR as it is, with the same names as `attributes` (as for our own
//! Certificates), so what TLM issues is what the requester asked for.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use x509_parser::prelude::*;

use crate::clients::tlm_types::{Attributes, Extensions, SanAttributes, SubjectAttributes};

/// What the CSR asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrFacts {
    /// The CSR as PEM, sent to TLM unchanged.
    pub pem: String,
    /// DER SubjectPublicKeyInfo: the issued leaf must carry this key.
    pub spki_der: Vec<u8>,
    pub subject: SubjectAttributes,
    pub sans: SanAttributes,
    /// The CSR asks for a CA certificate (basicConstraints CA:TRUE).
    pub requests_ca: bool,
}

impl CsrFacts {
    /// TLM `attributes` for this CSR.
    pub fn attributes(&self) -> Attributes {
        Attributes {
            subject: self.subject.clone(),
            extensions: (!self.sans.is_empty()).then(|| Extensions {
                san: self.sans.clone(),
            }),
        }
    }

    /// The name a seat and a search go by: the common name, else the first DNS name.
    pub fn primary_name(&self) -> Option<String> {
        self.subject
            .common_name
            .clone()
            .or_else(|| self.sans.dns_names.first().cloned())
    }
}

/// Parses `spec.request` (base64 of a PEM CSR, as the API server returns bytes) and checks
/// the CSR's signature. The error says what is wrong, for an `InvalidRequest` message.
pub fn parse_request(base64_pem: &str) -> Result<CsrFacts, String> {
    let pem_bytes = STANDARD
        .decode(base64_pem.trim())
        .map_err(|e| format!("spec.request is not base64: {e}"))?;
    let pem_text = String::from_utf8(pem_bytes).map_err(|_| "spec.request is not a PEM text".to_string())?;
    let block = ::pem::parse(&pem_text).map_err(|e| format!("spec.request is not PEM: {e}"))?;
    if block.tag() != "CERTIFICATE REQUEST" && block.tag() != "NEW CERTIFICATE REQUEST" {
        return Err(format!(
            "spec.request holds a PEM {:?} block, not a CERTIFICATE REQUEST",
            block.tag()
        ));
    }
    let (_, csr) = X509CertificationRequest::from_der(block.contents())
        .map_err(|e| format!("the CSR cannot be parsed: {e}"))?;
    csr.verify_signature()
        .map_err(|e| format!("the CSR's signature does not verify: {e}"))?;
    let info = &csr.certification_request_info;
    let name = &info.subject;
    let subject = SubjectAttributes {
        common_name: first(name.iter_common_name()),
        organization_name: first(name.iter_organization()),
        organization_units: all(name.iter_organizational_unit()),
        country: first(name.iter_country()),
        state: first(name.iter_state_or_province()),
        locality: first(name.iter_locality()),
        street_address: all(name.iter_by_oid(&x509_parser::oid_registry::OID_X509_STREET_ADDRESS)),
        postal_code: first(name.iter_by_oid(&x509_parser::oid_registry::OID_X509_POSTAL_CODE)),
        domain_component: Vec::new(),
        serial_number: first(name.iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER)),
    };
    let mut sans = SanAttributes::default();
    let mut requests_ca = false;
    for ext in csr.requested_extensions().into_iter().flatten() {
        match ext {
            ParsedExtension::SubjectAlternativeName(san) => {
                for general in &san.general_names {
                    match general {
                        GeneralName::DNSName(n) => sans.dns_names.push(n.to_string()),
                        GeneralName::RFC822Name(n) => sans.emails.push(n.to_string()),
                        GeneralName::URI(n) => sans.uris.push(n.to_string()),
                        GeneralName::IPAddress(bytes) => {
                            if let Some(ip) = ip_from_bytes(bytes) {
                                sans.ip_addresses.push(ip.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::BasicConstraints(bc) => requests_ca |= bc.ca,
            _ => {}
        }
    }
    if subject.common_name.is_none() && sans.is_empty() {
        return Err("the CSR names nothing: no common name and no subject alternative name".into());
    }
    Ok(CsrFacts {
        pem: ::pem::encode(&::pem::Pem::new("CERTIFICATE REQUEST", block.contents().to_vec())),
        spki_der: info.subject_pki.raw.to_vec(),
        subject,
        sans,
        requests_ca,
    })
}

fn first<'a>(mut it: impl Iterator<Item = &'a AttributeTypeAndValue<'a>>) -> Option<String> {
    it.find_map(|a| a.as_str().ok().map(str::to_string))
}

fn all<'a>(it: impl Iterator<Item = &'a AttributeTypeAndValue<'a>>) -> Vec<String> {
    it.filter_map(|a| a.as_str().ok().map(str::to_string)).collect()
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Base64 of a PEM CSR for `names` (the first is the CN), as `spec.request` holds it.
    pub(crate) fn request_for(names: &[&str], is_ca: bool) -> (String, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0]);
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example Ltd");
        if is_ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let csr = params.serialize_request(&key).unwrap();
        (STANDARD.encode(csr.pem().unwrap()), key)
    }

    #[test]
    fn reads_names_key_and_subject() {
        let (request, key) = request_for(&["a.example.com", "b.example.com"], false);
        let facts = parse_request(&request).unwrap();
        assert_eq!(facts.subject.common_name.as_deref(), Some("a.example.com"));
        assert_eq!(facts.subject.organization_name.as_deref(), Some("Example Ltd"));
        assert_eq!(facts.sans.dns_names, ["a.example.com", "b.example.com"]);
        assert_eq!(
            facts.spki_der,
            rcgen::PublicKeyData::subject_public_key_info(&key)
        );
        assert!(!facts.requests_ca);
        assert!(facts.pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        assert_eq!(facts.primary_name().as_deref(), Some("a.example.com"));
    }

    #[test]
    fn a_ca_request_is_noticed() {
        let (request, _) = request_for(&["ca.example.com"], true);
        assert!(parse_request(&request).unwrap().requests_ca);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(parse_request("!!!").unwrap_err().contains("base64"));
        let not_csr = STANDARD.encode("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(
            parse_request(&not_csr)
                .unwrap_err()
                .contains("CERTIFICATE REQUEST")
        );
    }
}
