//! TLM wire types. Requests are shaped as the published spec and DigiCert's clients send them
//! (`docs/tlm-wire.md`);
//! responses are parsed leniently: unknown fields are ignored and every field we do not strictly
//! need is optional, so a service that adds or omits a field does not break us.

use serde::{Deserialize, Deserializer, Serialize};

/// A certificate profile (`GET /mpki/api/v2/profile/{id}`, or one item of the list).
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub enrollment_method: Option<String>,
    /// `third_party_app` issues at once; `manual_approval` (and the other methods) may leave a
    /// request pending.
    #[serde(default)]
    pub authentication_method: Option<String>,
    /// The spec spells it `X509`/`PKCS7`, the tutorial `x509`/`pkcs7`: compare ignoring case.
    #[serde(default)]
    pub certificate_delivery_format: Option<String>,
    /// The tutorial's list shows this spelling too.
    #[serde(default)]
    pub cert_delivery_format: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub renewal_period_days: Option<i64>,
    /// Whether `validity` in a request is honoured; otherwise the profile's validity applies.
    #[serde(default)]
    pub override_cert_validity_via_api: Option<bool>,
    #[serde(default)]
    pub certificate: Option<ProfileCertificate>,
}

/// The certificate template part of a profile.
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileCertificate {
    #[serde(default)]
    pub validity: Option<ProfileValidity>,
}

/// A profile's own validity; `duration` is read leniently (a number or a string of digits).
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileValidity {
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub duration: Option<i64>,
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

    /// Only `third_party_app` profiles are documented to issue at once; any other (or no)
    /// authentication method may answer a submit with a pending request.
    pub fn may_need_approval(&self) -> bool {
        !self
            .authentication_method
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("third_party_app"))
    }

    /// Whether a requested validity is honoured. Unknown counts as no: sending it anyway
    /// could be refused.
    pub fn allows_validity_override(&self) -> bool {
        self.override_cert_validity_via_api == Some(true)
    }

    /// The profile's own validity as text ("365 days"), if it says.
    pub fn validity_text(&self) -> Option<String> {
        let v = self.certificate.as_ref()?.validity.as_ref()?;
        Some(format!("{} {}", v.duration?, v.unit.as_deref()?))
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

/// Subject attributes by TLM's field names. The spec types `organization_units`,
/// `street_address` and `domain_component` as arrays, the rest as strings.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectAttributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organization_units: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub street_address: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domain_component: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
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

/// `POST /mpki/api/v1/certificate` body, in the top-level shape of the spec and DigiCert's
/// clients (the tutorial's nesting under `profile` is a documentation error).
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct SubmitRequest {
    pub profile: IdRef,
    pub seat: SeatRef,
    pub csr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<ValidityWire>,
    pub delivery_format: String,
    pub include_ca_chain: bool,
    pub attributes: Attributes,
}

/// `POST /mpki/api/v1/certificate/{serial}/renew` body: exactly the spec's four fields (the
/// certificate keeps its subject, names and profile).
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct RenewRequest {
    pub csr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<ValidityWire>,
    pub delivery_format: String,
    pub include_ca_chain: bool,
}

/// `POST /mpki/api/v1/certificate-pickup/{request_id}` body, as DigiCert's Terraform provider
/// sends it.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PickupRequest {
    pub profile: IdRef,
}

/// Answer to submit, renew and pickup.
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueResponse {
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Set instead of a serial when the request waits for approval.
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub delivery_format: Option<String>,
    /// PEM x509 (possibly followed by the chain) or PKCS#7, when issued.
    #[serde(default)]
    pub certificate: Option<String>,
    /// `PENDING` / `ISSUED` on pickup (upper case); absent on an immediate issuance.
    #[serde(default)]
    pub status: Option<String>,
}

/// What a submit, renew or pickup answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    /// Issued: the serial and the delivered certificate.
    Issued { serial: String, certificate: String },
    /// Issued, but the answer did not carry the certificate: read it by serial.
    IssuedWithoutCertificate { serial: String },
    /// Waiting for approval; pick it up later with this id.
    Pending { request_id: String },
    /// The request was rejected.
    Rejected,
    /// A status we do not know; its value is kept for the condition.
    UnknownStatus(String),
}

impl IssueResponse {
    /// Interprets the answer. `Err` names what is missing.
    pub fn outcome(&self) -> Result<IssueOutcome, String> {
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let serial = non_empty(&self.serial_number);
        let request_id = non_empty(&self.request_id);
        let certificate = non_empty(&self.certificate);
        match self.status.as_deref().map(PickupState::parse) {
            Some(PickupState::Pending) => {
                return request_id
                    .map(|request_id| IssueOutcome::Pending { request_id })
                    .ok_or_else(|| "status PENDING without a request_id".to_string());
            }
            Some(PickupState::Rejected) => return Ok(IssueOutcome::Rejected),
            Some(PickupState::Unknown(value)) => return Ok(IssueOutcome::UnknownStatus(value)),
            Some(PickupState::Issued) | None => {}
        }
        match (serial, certificate, request_id) {
            (Some(serial), Some(certificate), _) => Ok(IssueOutcome::Issued { serial, certificate }),
            (Some(serial), None, _) => Ok(IssueOutcome::IssuedWithoutCertificate { serial }),
            // No serial and no status: DigiCert's provider reads this as pending as well.
            (None, _, Some(request_id)) if self.status.is_none() => Ok(IssueOutcome::Pending { request_id }),
            _ => Err("neither serial_number nor request_id".to_string()),
        }
    }
}

/// Pickup statuses (upper case on the wire; compared ignoring case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickupState {
    Pending,
    Issued,
    Rejected,
    Unknown(String),
}

impl PickupState {
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_uppercase().as_str() {
            "PENDING" => PickupState::Pending,
            "ISSUED" => PickupState::Issued,
            "REJECTED" | "DENIED" => PickupState::Rejected,
            _ => PickupState::Unknown(value.trim().to_string()),
        }
    }
}

/// States of an issued certificate (`GET /certificate/{serial}`, search items): lower case on
/// the wire, never pending. Revoked, expired and suspended are terminal for that serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateState {
    Issued,
    Revoked,
    Expired,
    Suspended,
    Unknown(String),
}

impl CertificateState {
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "issued" => CertificateState::Issued,
            "revoked" => CertificateState::Revoked,
            "expired" => CertificateState::Expired,
            "suspended" => CertificateState::Suspended,
            _ => CertificateState::Unknown(value.trim().to_string()),
        }
    }

    /// The wire spelling, for conditions and Events.
    pub fn name(&self) -> &str {
        match self {
            CertificateState::Issued => "issued",
            CertificateState::Revoked => "revoked",
            CertificateState::Expired => "expired",
            CertificateState::Suspended => "suspended",
            CertificateState::Unknown(v) => v,
        }
    }

    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            CertificateState::Revoked | CertificateState::Expired | CertificateState::Suspended
        )
    }
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatView {
    #[serde(default)]
    pub seat_id: Option<String>,
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
    /// SHA-256 of the DER, hex.
    #[serde(default)]
    pub thumbprint: Option<String>,
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_to: Option<String>,
    /// Base64 DER in the spec's example, PEM in the tutorial: both are read.
    #[serde(default)]
    pub certificate: Option<String>,
    #[serde(default)]
    pub profile: Option<NamedRef>,
    #[serde(default)]
    pub seat: Option<SeatView>,
}

impl CertificateRecord {
    pub fn state(&self) -> CertificateState {
        CertificateState::parse(self.status.as_deref().unwrap_or(""))
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
    /// `ISSUED | EXPIRED | REVOKED | SUSPENDED` (the spec's enum, upper case).
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

/// One page of search results: the spec's `{total, offset, limit, items}`. A bare array is
/// also read (as a last page), so an older tenant does not break recovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPage {
    pub items: Vec<CertificateRecord>,
    pub total: Option<u64>,
}

impl<'de> Deserialize<'de> for SearchPage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Envelope {
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
            "certificate_delivery_format":"PKCS7","enrollment_method":"rest_api",
            "authentication_method":"third_party_app","override_cert_validity_via_api":true,
            "certificate":{"validity":{"unit":"days","duration":"365"}},"unknown":{"x":1}}]"#;
        let profiles: Vec<Profile> = serde_json::from_str(body).unwrap();
        let p = &profiles[0];
        assert!(p.is_active() && p.is_rest_api() && !p.may_need_approval() && p.allows_validity_override());
        assert_eq!(p.delivery_format(), Some("PKCS7"));
        assert_eq!(p.renewal_period_days, Some(30));
        assert_eq!(p.validity_text().as_deref(), Some("365 days"));
        let manual: Profile =
            serde_json::from_str(r#"{"id":"x","authentication_method":"manual_approval"}"#).unwrap();
        assert!(manual.may_need_approval() && !manual.allows_validity_override());
    }

    fn submit() -> SubmitRequest {
        SubmitRequest {
            profile: IdRef { id: "p".into() },
            seat: SeatRef { seat_id: "s".into() },
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
                    organization_units: vec!["Ops".into(), "Web".into()],
                    street_address: vec!["1 Main St".into()],
                    ..Default::default()
                },
                extensions: Some(Extensions {
                    san: SanAttributes {
                        dns_names: vec!["a.example.com".into()],
                        ..Default::default()
                    },
                }),
            },
        }
    }

    #[test]
    fn submit_body_has_the_spec_shape_with_arrays() {
        let json = serde_json::to_value(submit()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"CSR",
                "validity":{"unit":"days","duration":90},"delivery_format":"x509","include_ca_chain":true,
                "attributes":{"subject":{"common_name":"a.example.com","organization_units":["Ops","Web"],
                "street_address":["1 Main St"]},"extensions":{"san":{"dns_names":["a.example.com"]}}}})
        );
    }

    #[test]
    fn renew_and_pickup_bodies() {
        let renew = RenewRequest {
            csr: "CSR".into(),
            validity: None,
            delivery_format: "x509".into(),
            include_ca_chain: true,
        };
        assert_eq!(
            serde_json::to_value(renew).unwrap(),
            serde_json::json!({"csr":"CSR","delivery_format":"x509","include_ca_chain":true})
        );
        let pickup = PickupRequest {
            profile: IdRef { id: "p".into() },
        };
        assert_eq!(
            serde_json::to_value(pickup).unwrap(),
            serde_json::json!({"profile":{"id":"p"}})
        );
    }

    fn outcome(body: &str) -> Result<IssueOutcome, String> {
        serde_json::from_str::<IssueResponse>(body).unwrap().outcome()
    }

    #[test]
    fn issue_outcomes() {
        assert_eq!(
            outcome(r#"{"serial_number":"01","certificate":"PEM","delivery_format":"x509"}"#),
            Ok(IssueOutcome::Issued {
                serial: "01".into(),
                certificate: "PEM".into()
            })
        );
        assert_eq!(
            outcome(r#"{"request_id":"r1","status":"PENDING"}"#),
            Ok(IssueOutcome::Pending {
                request_id: "r1".into()
            })
        );
        assert_eq!(
            outcome(r#"{"request_id":"r1","serial_number":""}"#),
            Ok(IssueOutcome::Pending {
                request_id: "r1".into()
            })
        );
        assert_eq!(
            outcome(r#"{"request_id":"r1","status":"ISSUED","serial_number":"0A","certificate":"PEM"}"#),
            Ok(IssueOutcome::Issued {
                serial: "0A".into(),
                certificate: "PEM".into()
            })
        );
        assert_eq!(
            outcome(r#"{"request_id":"r1","status":"REJECTED"}"#),
            Ok(IssueOutcome::Rejected)
        );
        assert_eq!(
            outcome(r#"{"request_id":"r1","status":"ON_HOLD"}"#),
            Ok(IssueOutcome::UnknownStatus("ON_HOLD".into()))
        );
        assert_eq!(
            outcome(r#"{"serial_number":"0B"}"#),
            Ok(IssueOutcome::IssuedWithoutCertificate { serial: "0B".into() })
        );
        assert!(outcome(r#"{"status":"PENDING"}"#).is_err());
        assert!(outcome(r#"{}"#).is_err());
    }

    #[test]
    fn certificate_states_are_never_pending() {
        assert_eq!(CertificateState::parse("issued"), CertificateState::Issued);
        assert_eq!(CertificateState::parse("SUSPENDED"), CertificateState::Suspended);
        assert!(CertificateState::parse("revoked").is_terminal());
        assert!(CertificateState::parse("expired").is_terminal());
        assert_eq!(
            CertificateState::parse("pending"),
            CertificateState::Unknown("pending".into())
        );
        assert!(!CertificateState::parse("issued").is_terminal());
    }

    #[test]
    fn search_page_reads_the_spec_envelope() {
        let page: SearchPage = serde_json::from_str(
            r#"{"total":3,"offset":0,"limit":2,"items":[{"serial_number":"01","certificate":"MII"},{"serial_number":"02"}]}"#,
        )
        .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.total, Some(3));
        let bare: SearchPage = serde_json::from_str(r#"[{"serial_number":"01"}]"#).unwrap();
        assert_eq!(bare.total, None);
        assert!(serde_json::from_str::<SearchPage>(r#"{"certificates":[]}"#).is_err());
    }
}
