//! Subject and subject-alternative-name values of a certificate request, and the DNS-name
//! normalisation (lower case, IDNs in Punycode) that issuance and the CT feed share.

use std::net::IpAddr;

use serde::Serialize;

/// Subject DN values as TLM's `attributes.subject` names them. Fields the spec types as arrays
/// are lists here too (and in the certificate, one RDN per entry).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubjectFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organization_units: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub street_address: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domain_component: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_identifier: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub description: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unstructured_name: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unstructured_address: Vec<String>,
}

/// Subject alternative names as TLM's `attributes.extensions.san` names them. Registered ids
/// and other names are kept and reported, but not put into certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubjectAltNames {
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_principal_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registered_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_names: Option<serde_json::Value>,
}

impl SubjectAltNames {
    /// Whether there is no name a certificate could carry.
    pub fn is_empty(&self) -> bool {
        self.dns_names.is_empty()
            && self.ip_addresses.is_empty()
            && self.emails.is_empty()
            && self.uris.is_empty()
            && self.user_principal_names.is_empty()
    }
}

/// Lower-cases a DNS name and converts an IDN to Punycode; a leading `*.` wildcard label is kept.
/// `None` when the name is not a valid DNS name.
pub fn normalize_dns_name(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches('.');
    let (wildcard, rest) = match name.strip_prefix("*.") {
        Some(rest) => ("*.", rest),
        None => ("", name),
    };
    if rest.is_empty() || rest.contains('*') {
        return None;
    }
    let ascii = idna::domain_to_ascii_strict(rest).ok()?;
    let labels_ok = ascii.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    (labels_ok && ascii.len() <= 253).then(|| format!("{wildcard}{ascii}"))
}

/// The names a CT monitor indexes a certificate under: the CN when it is a DNS name, plus the
/// DNS SANs, normalised, sorted and de-duplicated.
pub fn ct_dns_names(common_name: Option<&str>, dns_sans: &[String]) -> Vec<String> {
    let mut names: Vec<String> = common_name
        .into_iter()
        .chain(dns_sans.iter().map(String::as_str))
        .filter_map(normalize_dns_name)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_wildcards_and_idns() {
        assert_eq!(
            normalize_dns_name("WWW.Example.COM.").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(
            normalize_dns_name("*.example.com").as_deref(),
            Some("*.example.com")
        );
        assert_eq!(
            normalize_dns_name("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(normalize_dns_name("a.*.example.com"), None);
        assert_eq!(normalize_dns_name("has space.com"), None);
        assert_eq!(normalize_dns_name(""), None);
        assert_eq!(normalize_dns_name("-bad.com"), None);
    }

    #[test]
    fn ct_names_merge_cn_and_sans() {
        let names = ct_dns_names(
            Some("B.example.com"),
            &["a.example.com".into(), "b.example.com".into()],
        );
        assert_eq!(names, vec!["a.example.com", "b.example.com"]);
        assert_eq!(ct_dns_names(Some("Not A Host"), &[]), Vec::<String>::new());
    }
}
