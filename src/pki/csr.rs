//! Certificate signing requests built from a Certificate's spec and its private key.

use std::net::IpAddr;

use rcgen::{CertificateParams, DistinguishedName, DnType, SanType};

use super::key_types::SubjectName;
use super::{PkiError, PrivateKey};

/// What goes into a CSR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrRequest {
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub email_addresses: Vec<String>,
    pub uris: Vec<String>,
    pub subject: SubjectName,
}

const STREET_ADDRESS: &[u64] = &[2, 5, 4, 9];
const POSTAL_CODE: &[u64] = &[2, 5, 4, 17];
const SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];

/// A PEM CSR signed by `key`.
pub fn build_csr_pem(request: &CsrRequest, key: &PrivateKey) -> Result<String, PkiError> {
    let csr_err = |what: &str, e: rcgen::Error| PkiError::Csr(format!("{what}: {e}"));
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if let Some(cn) = &request.common_name {
        dn.push(DnType::CommonName, cn.as_str());
    }
    let s = &request.subject;
    let multi: [(&Vec<String>, DnType); 7] = [
        (&s.countries, DnType::CountryName),
        (&s.provinces, DnType::StateOrProvinceName),
        (&s.localities, DnType::LocalityName),
        (&s.organizations, DnType::OrganizationName),
        (&s.organizational_units, DnType::OrganizationalUnitName),
        (&s.street_addresses, DnType::CustomDnType(STREET_ADDRESS.to_vec())),
        (&s.postal_codes, DnType::CustomDnType(POSTAL_CODE.to_vec())),
    ];
    for (values, ty) in multi {
        for value in values {
            dn.push(ty.clone(), value.as_str());
        }
    }
    if let Some(serial) = &s.serial_number {
        dn.push(DnType::CustomDnType(SERIAL_NUMBER.to_vec()), serial.as_str());
    }
    params.distinguished_name = dn;

    for name in &request.dns_names {
        let ia5 = name.as_str().try_into().map_err(|e| csr_err("DNS name", e))?;
        params.subject_alt_names.push(SanType::DnsName(ia5));
    }
    for ip in &request.ip_addresses {
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| PkiError::Csr(format!("{ip:?} is not an IP address")))?;
        params.subject_alt_names.push(SanType::IpAddress(addr));
    }
    for email in &request.email_addresses {
        let ia5 = email
            .as_str()
            .try_into()
            .map_err(|e| csr_err("email address", e))?;
        params.subject_alt_names.push(SanType::Rfc822Name(ia5));
    }
    for uri in &request.uris {
        let ia5 = uri.as_str().try_into().map_err(|e| csr_err("URI", e))?;
        params.subject_alt_names.push(SanType::URI(ia5));
    }
    let csr = params
        .serialize_request(key.key_pair())
        .map_err(|e| csr_err("sign", e))?;
    csr.pem().map_err(|e| csr_err("encode", e))
}

/// SHA-256 (hex) of the public key a PEM CSR carries (what an order's CSR is matched by).
pub fn csr_spki_sha256_hex(pem_text: &str) -> Result<String, PkiError> {
    use x509_parser::prelude::*;
    let block = ::pem::parse(pem_text.trim()).map_err(|e| PkiError::Csr(format!("not PEM: {e}")))?;
    let (_, csr) = X509CertificationRequest::from_der(block.contents())
        .map_err(|e| PkiError::Csr(format!("not a CSR: {e}")))?;
    Ok(super::spki_sha256_hex(
        csr.certification_request_info.subject_pki.raw,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::KeyAlgorithm;

    #[test]
    fn csr_key_fingerprint_is_the_keys() {
        let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
        let request = CsrRequest {
            common_name: Some("a.example.com".into()),
            ..Default::default()
        };
        let pem = build_csr_pem(&request, &key).unwrap();
        assert_eq!(csr_spki_sha256_hex(&pem).unwrap(), key.spki_sha256_hex());
        assert!(csr_spki_sha256_hex("junk").is_err());
    }
    use x509_parser::prelude::*;

    #[test]
    fn csr_carries_names_and_key() {
        let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
        let request = CsrRequest {
            common_name: Some("app.example.com".into()),
            dns_names: vec!["app.example.com".into(), "*.app.example.com".into()],
            ip_addresses: vec!["10.0.0.1".into(), "2001:db8::1".into()],
            email_addresses: vec!["ops@example.com".into()],
            uris: vec!["spiffe://cluster.local/ns/a/sa/b".into()],
            subject: SubjectName {
                organizations: vec!["Example Inc".into()],
                countries: vec!["US".into()],
                ..Default::default()
            },
        };
        let pem_text = build_csr_pem(&request, &key).unwrap();
        let der = ::pem::parse(&pem_text).unwrap().into_contents();
        let (_, csr) = X509CertificationRequest::from_der(&der).unwrap();
        csr.verify_signature().unwrap();
        assert_eq!(
            csr.certification_request_info.subject_pki.raw,
            key.spki_der().as_slice()
        );
        let subject = csr.certification_request_info.subject.to_string();
        assert!(
            subject.contains("CN=app.example.com") && subject.contains("O=Example Inc"),
            "{subject}"
        );
        let sans: Vec<String> = csr
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                ParsedExtension::SubjectAlternativeName(san) => Some(
                    san.general_names
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(sans.len(), 6, "{sans:?}");
    }

    #[test]
    fn bad_ip_is_an_error() {
        let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
        let request = CsrRequest {
            ip_addresses: vec!["nope".into()],
            ..Default::default()
        };
        assert!(matches!(build_csr_pem(&request, &key), Err(PkiError::Csr(_))));
    }
}
