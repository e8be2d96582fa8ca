//! What a Certificate's spec asks for, normalised for comparison with an issued certificate.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::Serialize;

use crate::api::{CertificateSpec, IssuerKind};
use crate::pki::{CsrRequest, LeafInfo, sha256_hex};

/// The names a certificate must carry, compared as sets (order and case of DNS names do not
/// matter; IP addresses compare by value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredNames {
    pub common_name: Option<String>,
    pub dns_names: BTreeSet<String>,
    pub ip_addresses: BTreeSet<IpAddr>,
    pub email_addresses: BTreeSet<String>,
    pub uris: BTreeSet<String>,
}

impl DesiredNames {
    pub fn of(spec: &CertificateSpec) -> Self {
        Self {
            common_name: spec.common_name.clone(),
            dns_names: spec
                .dns_names
                .iter()
                .flatten()
                .map(|n| n.to_ascii_lowercase())
                .collect(),
            ip_addresses: spec
                .ip_addresses
                .iter()
                .flatten()
                .filter_map(|ip| ip.parse().ok())
                .collect(),
            email_addresses: spec.email_addresses.iter().flatten().cloned().collect(),
            uris: spec.uris.iter().flatten().cloned().collect(),
        }
    }

    /// What is wrong with an issued certificate's names, if anything. A spec without a common
    /// name accepts whatever CN the issuer chose (we ask TLM for the first SAN as CN).
    pub fn mismatch(&self, leaf: &LeafInfo) -> Option<String> {
        if let Some(cn) = &self.common_name
            && leaf.common_name.as_deref() != Some(cn.as_str())
        {
            return Some(format!(
                "common name is {:?}, spec asks for {cn:?}",
                leaf.common_name
            ));
        }
        let dns: BTreeSet<String> = leaf.dns_names.iter().map(|n| n.to_ascii_lowercase()).collect();
        // TLM may add the common name as a DNS SAN; that extra name is not a mismatch.
        let mut expected_dns = self.dns_names.clone();
        if let Some(cn) = &self.common_name
            && dns.contains(&cn.to_ascii_lowercase())
        {
            expected_dns.insert(cn.to_ascii_lowercase());
        }
        if dns != expected_dns {
            return Some(format!(
                "DNS names are {dns:?}, spec asks for {:?}",
                self.dns_names
            ));
        }
        let ips: BTreeSet<IpAddr> = leaf
            .ip_addresses
            .iter()
            .filter_map(|ip| ip.parse().ok())
            .collect();
        if ips != self.ip_addresses {
            return Some(format!(
                "IP addresses are {ips:?}, spec asks for {:?}",
                self.ip_addresses
            ));
        }
        let emails: BTreeSet<String> = leaf.email_addresses.iter().cloned().collect();
        if emails != self.email_addresses {
            return Some("email addresses differ from the spec".into());
        }
        let uris: BTreeSet<String> = leaf.uris.iter().cloned().collect();
        if uris != self.uris {
            return Some("URIs differ from the spec".into());
        }
        None
    }
}

/// The common name a request carries (see [`CertificateSpec::request_common_name`]).
pub fn request_common_name(spec: &CertificateSpec) -> Option<String> {
    spec.request_common_name()
}

/// The CSR contents for a spec.
pub fn csr_request(spec: &CertificateSpec) -> CsrRequest {
    CsrRequest {
        common_name: request_common_name(spec),
        dns_names: spec.dns_names.clone().unwrap_or_default(),
        ip_addresses: spec.ip_addresses.clone().unwrap_or_default(),
        email_addresses: spec.email_addresses.clone().unwrap_or_default(),
        uris: spec.uris.clone().unwrap_or_default(),
        subject: spec.subject.as_deref().cloned().unwrap_or_default().into(),
    }
}

/// Hash of every spec field that shapes the issued certificate. Fields that only change timing
/// or the Secret's layout (renewBefore, encoding, secretTemplate, output formats) are left out,
/// so changing them does not order a new certificate.
pub fn request_hash(spec: &CertificateSpec) -> String {
    #[derive(Serialize)]
    struct Shape<'a> {
        names: DesiredNames,
        request_common_name: Option<String>,
        subject: &'a Option<Box<crate::api::Subject>>,
        duration: Option<String>,
        algorithm: crate::api::KeyAlgorithm,
        size: u32,
        issuer_name: &'a str,
        issuer_kind: IssuerKind,
        seat_id: &'a Option<String>,
    }
    let shape = Shape {
        names: DesiredNames::of(spec),
        request_common_name: request_common_name(spec),
        subject: &spec.subject,
        duration: spec
            .duration
            .map(|d| std::time::Duration::from(d).as_secs().to_string()),
        algorithm: spec.private_key.algorithm,
        size: crate::pki::effective_key_size(spec.private_key.algorithm, spec.private_key.size),
        issuer_name: &spec.issuer_ref.name,
        issuer_kind: spec.issuer_ref.kind,
        seat_id: &spec.seat_id,
    };
    let json = serde_json::to_vec(&shape).expect("plain data serialises");
    sha256_hex(&json)[..32].to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn spec(dns: &[&str]) -> CertificateSpec {
        CertificateSpec::for_tests("tlm", dns)
    }

    #[test]
    fn hash_ignores_order_and_layout_but_not_names() {
        let a = spec(&["a.example.com", "b.example.com", "c.example.com"]);
        let mut b = spec(&["a.example.com", "C.example.com", "b.example.com"]);
        b.private_key.encoding = crate::api::KeyEncoding::PKCS8;
        b.renew_before_percentage = Some(20);
        assert_eq!(request_hash(&a), request_hash(&b));
        let c = spec(&["a.example.com", "b.example.com"]);
        assert_ne!(request_hash(&a), request_hash(&c));
        let mut d = a.clone();
        d.private_key.algorithm = crate::api::KeyAlgorithm::RSA;
        assert_ne!(request_hash(&a), request_hash(&d));
    }

    #[test]
    fn request_common_name_falls_back_to_first_san() {
        assert_eq!(
            request_common_name(&spec(&["x.example.com", "y.example.com"])).as_deref(),
            Some("x.example.com")
        );
    }
}
