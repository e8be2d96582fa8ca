//! TLM wire types. Requests are shaped as real clients send them (DESIGN.md §3 wire notes);
//! responses are parsed leniently: unknown fields are ignored and every field we do not strictly
//! need is optional, so a service that adds or omits a field does not break us.

use serde::{Deserialize, Deserializer, Serialize};

/// A certificate profile (`GET /mpki/api/v2/profile`).
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub enrollment_method: Option<String>,
    #[serde(default)]
    pub certificate_delivery_format: Option<String>,
    /// Some tenants spell the delivery format this way.
    #[serde(default)]
    pub cert_delivery_format: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub renewal_period_days: Option<i64>,
    #[serde(default)]
    pub override_cert_validity_via_api: Option<bool>,
}

impl Profile {
    pub fn is_active(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("active"))
    }

    pub fn is_rest_api(&self) -> bool {
        self.enrollment_method
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("rest_api"))
    }

    pub fn delivery_format(&self) -> Option<&str> {
        self.certificate_delivery_format
            .as_deref()
            .or(self.cert_delivery_format.as_deref())
    }
}

/// `{"id": ...}`
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct IdRef {
    pub id: String,
}

/// `{"seat_id": ...}`
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SeatRef {
    pub seat_id: String,
}

/// `{"unit": "days", "duration": N}`
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ValidityWire {
    pub unit: String,
    pub duration: u32,
}

/// Subject attributes by TLM's field names.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_units: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

/// Subject alternative names.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SanAttributes {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uris: Vec<String>,
}

impl SanAttributes {
    pub fn is_empty(&self) -> bool {
        self.dns_names.is_empty()
            && self.ip_addresses.is_empty()
            && self.emails.is_empty()
            && self.uris.is_empty()
    }
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub san: SanAttributes,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub subject: SubjectAttributes,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Extensions>,
}

/// `POST /mpki/api/v1/certificate` body, in the top-level shape real clients send.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SubmitRequest {
    pub profile: IdRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat: Option<SeatRef>,
    pub csr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<ValidityWire>,
    pub delivery_format: String,
    pub include_ca_chain: bool,
    pub attributes: Attributes,
}

/// `POST /mpki/api/v1/certificate/{serial}/renew` body.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RenewRequest {
    pub csr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<ValidityWire>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,
}

/// Answer to submit, renew and pickup.
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueResponse {
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Set instead of a serial when the certificate must be picked up later.
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub delivery_format: Option<String>,
    /// PEM x509 or PKCS#7, when issued at once.
    #[serde(default)]
    pub certificate: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// Lifecycle state of a certificate request. TLM spells these in lower case in some places
/// and upper case in others; unknown values are kept (and treated as pending by callers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    Issued,
    Pending,
    Revoked,
    Rejected,
    Other(String),
}

impl CertStatus {
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "issued" | "valid" | "active" => CertStatus::Issued,
            "pending" | "pending_approval" | "approved" | "processing" => CertStatus::Pending,
            "revoked" => CertStatus::Revoked,
            "rejected" | "denied" | "failed" => CertStatus::Rejected,
            _ => CertStatus::Other(value.to_string()),
        }
    }
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// A certificate as the status and search endpoints describe it.
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateRecord {
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub common_name: Option<String>,
    #[serde(default)]
    pub thumbprint: Option<String>,
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_to: Option<String>,
    #[serde(default)]
    pub certificate: Option<String>,
    #[serde(default)]
    pub profile: Option<NamedRef>,
}

impl CertificateRecord {
    pub fn cert_status(&self) -> CertStatus {
        CertStatus::parse(self.status.as_deref().unwrap_or(""))
    }
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    #[serde(default)]
    pub common_name: Option<String>,
    pub cert_blob: String,
}

/// `GET .../additional-formats`
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct AdditionalFormats {
    #[serde(default)]
    pub pkcs7: Option<String>,
    /// Leaf first, root last.
    #[serde(default)]
    pub x509_cert_chain: Vec<ChainEntry>,
}

/// Filters of `GET /mpki/api/v1/certificate-search`.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One page of search results. The public documentation does not pin the envelope down, so a
/// bare array and `{items|certificates|data: [...], total}` are all accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPage {
    pub items: Vec<CertificateRecord>,
    pub total: Option<u64>,
}

impl<'de> Deserialize<'de> for SearchPage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(default, alias = "certificates", alias = "data", alias = "results")]
            items: Vec<CertificateRecord>,
            #[serde(default, deserialize_with = "lenient_u64")]
            total: Option<u64>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            List(Vec<CertificateRecord>),
            Envelope(Envelope),
        }
        Ok(match Shape::deserialize(deserializer)? {
            Shape::List(items) => SearchPage { items, total: None },
            Shape::Envelope(e) => SearchPage {
                items: e.items,
                total: e.total,
            },
        })
    }
}

/// RFC 5280 revocation reasons as TLM spells them.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokeRequest {
    pub revocation_reason: RevocationReason,
}

fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(lenient_i64(deserializer)?.and_then(|v| u64::try_from(v).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_profile_parses() {
        let body = r#"[{"id":"d6743d9a","name":"Profile name","status":"Active","renewal_period_days":30,
            "certificate_delivery_format":"pkcs7","enrollment_method":"rest_api","unknown":{"x":1}}]"#;
        let profiles: Vec<Profile> = serde_json::from_str(body).unwrap();
        assert!(profiles[0].is_active() && profiles[0].is_rest_api());
        assert_eq!(profiles[0].delivery_format(), Some("pkcs7"));
        assert_eq!(profiles[0].renewal_period_days, Some(30));
    }

    #[test]
    fn submit_body_has_the_top_level_shape() {
        let req = SubmitRequest {
            profile: IdRef { id: "p".into() },
            seat: Some(SeatRef { seat_id: "s".into() }),
            csr: "CSR".into(),
            validity: Some(ValidityWire {
                unit: "days".into(),
                duration: 90,
            }),
            delivery_format: "x509".into(),
            include_ca_chain: true,
            attributes: Attributes {
                subject: SubjectAttributes {
                    common_name: Some("a.example.com".into()),
                    ..Default::default()
                },
                extensions: Some(Extensions {
                    san: SanAttributes {
                        dns_names: vec!["a.example.com".into()],
                        ..Default::default()
                    },
                }),
            },
        };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"CSR",
                "validity":{"unit":"days","duration":90},"delivery_format":"x509","include_ca_chain":true,
                "attributes":{"subject":{"common_name":"a.example.com"},"extensions":{"san":{"dns_names":["a.example.com"]}}}})
        );
    }

    #[test]
    fn status_values_compare_case_insensitively() {
        assert_eq!(CertStatus::parse("ISSUED"), CertStatus::Issued);
        assert_eq!(CertStatus::parse("pending"), CertStatus::Pending);
        assert_eq!(CertStatus::parse("REJECTED"), CertStatus::Rejected);
        assert_eq!(CertStatus::parse("weird"), CertStatus::Other("weird".into()));
    }

    #[test]
    fn search_page_accepts_several_envelopes() {
        let a: SearchPage = serde_json::from_str(r#"[{"serial_number":"01"}]"#).unwrap();
        let b: SearchPage =
            serde_json::from_str(r#"{"items":[{"serial_number":"01"}],"total":"1"}"#).unwrap();
        let c: SearchPage = serde_json::from_str(r#"{"certificates":[{"serial_number":"01"}]}"#).unwrap();
        assert_eq!(a.items, b.items);
        assert_eq!(b.items, c.items);
        assert_eq!(b.total, Some(1));
    }
}
