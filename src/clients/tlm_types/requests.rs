//! Request bodies: submit, renew, pickup and revoke, shaped as the published spec and DigiCert's
//! clients send them.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
