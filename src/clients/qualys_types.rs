//! Qualys CertView's DigiCert enrollment request and its view, as `docs/qualys-wire.md` records
//! them (field names from the "View Certificate Request" page), and what a view means for the
//! Certificate lifecycle.

use serde::{Deserialize, Serialize};

/// The certificate's signing hash (`certificate.signatureHash`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SignatureHash {
    #[default]
    Sha256,
    Sha384,
    Sha512,
}

impl SignatureHash {
    pub fn wire(self) -> &'static str {
        match self {
            SignatureHash::Sha256 => "SHA-256",
            SignatureHash::Sha384 => "SHA-384",
            SignatureHash::Sha512 => "SHA-512",
        }
    }
}

/// Exactly one of the three validity forms the request takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Validity {
    Days(u32),
    Years(u32),
    /// `customExpirationDate` as sent, e.g. `2026-12-31`.
    Until(String),
}

/// Names the DigiCert intermediate CA the subscription holds an API key for; at least one field
/// must be set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntermediateCa {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certhash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

/// What an Issuer fixes for every enrollment it makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrollmentProfile {
    pub approver_user_names: Vec<String>,
    pub requester_user_name: Option<String>,
    pub intermediate_ca: IntermediateCa,
    pub organization_id: u64,
    /// DigiCert product name id, e.g. `ssl_plus` (the view page's sample shows a string).
    pub product_name_id: String,
    pub ev_approver_user_ids: Vec<u64>,
    pub signature_hash: SignatureHash,
    pub validity: Validity,
    pub organization_units: Vec<String>,
}

/// Renewing a certificate Qualys already knows (`renewal`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renewal {
    pub digicert_previous_order_id: u64,
    /// The old certificate's certhash (SHA-256 of its DER, hex).
    pub renewal_of_certificate: String,
}

/// What one Certificate asks for: our CSR (the key stays in the cluster) and its names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateOrder {
    pub csr_pem: String,
    pub common_name: String,
    /// Every DNS name, the common name included.
    pub dns_names: Vec<String>,
    pub renewal: Option<Renewal>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollmentBody<'a> {
    pub approver_user_names: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester_user_name: Option<&'a str>,
    #[serde(rename = "intermediateCA")]
    pub intermediate_ca: &'a IntermediateCa,
    pub certificate: CertificateBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal: Option<RenewalBody<'a>>,
    pub validity: ValidityBody<'a>,
    pub digicert_organization_id: u64,
    pub digicert_product_name_id: &'a str,
    #[serde(
        rename = "digicertEVApproverUserIds",
        skip_serializing_if = "<[u64]>::is_empty"
    )]
    pub ev_approver_user_ids: &'a [u64],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateBody<'a> {
    pub common_name: &'a str,
    pub csr: CsrBody<'a>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub organization_units: &'a [String],
    pub signature_hash: &'static str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub dns_names: &'a [String],
}

/// `autoGenerateCSR` is always sent, always false: Qualys must never make our key.
#[derive(Serialize)]
pub(crate) struct CsrBody<'a> {
    #[serde(rename = "autoGenerateCSR")]
    pub auto_generate_csr: bool,
    #[serde(rename = "encodedCSR")]
    pub encoded_csr: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RenewalBody<'a> {
    pub digicert_previous_order_id: u64,
    pub renewal_of_certificate: &'a str,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValidityBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_expiration_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_years: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<u32>,
}

impl<'a> EnrollmentBody<'a> {
    pub fn new(profile: &'a EnrollmentProfile, order: &'a CertificateOrder) -> Self {
        let validity = match &profile.validity {
            Validity::Days(days) => ValidityBody {
                validity_days: Some(*days),
                ..Default::default()
            },
            Validity::Years(years) => ValidityBody {
                validity_years: Some(*years),
                ..Default::default()
            },
            Validity::Until(date) => ValidityBody {
                custom_expiration_date: Some(date),
                ..Default::default()
            },
        };
        EnrollmentBody {
            approver_user_names: &profile.approver_user_names,
            requester_user_name: profile.requester_user_name.as_deref(),
            intermediate_ca: &profile.intermediate_ca,
            certificate: CertificateBody {
                common_name: &order.common_name,
                csr: CsrBody {
                    auto_generate_csr: false,
                    encoded_csr: &order.csr_pem,
                },
                organization_units: &profile.organization_units,
                signature_hash: profile.signature_hash.wire(),
                dns_names: &order.dns_names,
            },
            renewal: order.renewal.as_ref().map(|r| RenewalBody {
                digicert_previous_order_id: r.digicert_previous_order_id,
                renewal_of_certificate: &r.renewal_of_certificate,
            }),
            validity,
            digicert_organization_id: profile.organization_id,
            digicert_product_name_id: &profile.product_name_id,
            ev_approver_user_ids: &profile.ev_approver_user_ids,
        }
    }
}

/// The parts of the view we read; everything else in it is ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentView {
    pub uuid: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub ca_status: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
}

/// Where a request stands, for the lifecycle's conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `ISSUED`: download the certificate.
    Issued,
    /// Still moving: poll again later.
    Pending(Pending),
    /// `CANCELLED`: someone withdrew it; a new request is needed.
    Cancelled,
    /// Refused for good (an approver's `REJECTED`, or DigiCert's caStatus).
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    /// `SUBMITTED`: waiting for a Qualys approver.
    Approval,
    /// `APPROVED`: waiting for DigiCert (validation); `caStatus` as given.
    Ca(String),
    /// A status this client does not know; polled like a pending one, never re-ordered.
    Unrecognised(String),
}

/// caStatus values that end an approved request without a certificate (DigiCert's order
/// statuses: `rejected`, `canceled`, `revoked`, ...).
const CA_FAILED: &[&str] = &[
    "rejected",
    "denied",
    "canceled",
    "cancelled",
    "revoked",
    "failed",
    "error",
];

impl EnrollmentView {
    pub fn outcome(&self) -> Outcome {
        let status = self.status.as_deref().unwrap_or_default().to_ascii_uppercase();
        let ca_status = self
            .ca_status
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match status.as_str() {
            "ISSUED" => Outcome::Issued,
            "CANCELLED" | "CANCELED" => Outcome::Cancelled,
            "REJECTED" => Outcome::Failed("rejected by a Qualys approver".into()),
            "SUBMITTED" => Outcome::Pending(Pending::Approval),
            "APPROVED" if CA_FAILED.contains(&ca_status.as_str()) => {
                Outcome::Failed(format!("DigiCert order {ca_status}"))
            }
            "APPROVED" => Outcome::Pending(Pending::Ca(ca_status)),
            _ => Outcome::Pending(Pending::Unrecognised(status)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(status: &str, ca: &str) -> EnrollmentView {
        EnrollmentView {
            uuid: "u".into(),
            status: Some(status.into()),
            ca_status: Some(ca.into()),
            ..Default::default()
        }
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(view("ISSUED", "issued").outcome(), Outcome::Issued);
        assert_eq!(
            view("SUBMITTED", "").outcome(),
            Outcome::Pending(Pending::Approval)
        );
        assert_eq!(
            view("APPROVED", "pending").outcome(),
            Outcome::Pending(Pending::Ca("pending".into()))
        );
        assert!(matches!(
            view("APPROVED", "Rejected").outcome(),
            Outcome::Failed(_)
        ));
        assert_eq!(view("CANCELLED", "").outcome(), Outcome::Cancelled);
        assert!(matches!(view("REJECTED", "").outcome(), Outcome::Failed(_)));
        assert_eq!(
            view("IN_RENEWAL", "").outcome(),
            Outcome::Pending(Pending::Unrecognised("IN_RENEWAL".into()))
        );
    }

    #[test]
    fn the_body_has_exactly_one_validity_and_never_generates_a_key() {
        let profile = EnrollmentProfile {
            approver_user_names: vec!["doe_john".into()],
            requester_user_name: None,
            intermediate_ca: IntermediateCa {
                common_name: Some("DigiCert Test SHA2 Intermediate CA-1".into()),
                ..Default::default()
            },
            organization_id: 525858,
            product_name_id: "ssl_plus".into(),
            ev_approver_user_ids: vec![],
            signature_hash: SignatureHash::Sha384,
            validity: Validity::Until("2030-01-01".into()),
            organization_units: vec![],
        };
        let order = CertificateOrder {
            csr_pem: "CSR".into(),
            common_name: "a.example".into(),
            dns_names: vec!["a.example".into()],
            renewal: None,
        };
        let body = serde_json::to_value(EnrollmentBody::new(&profile, &order)).unwrap();
        assert_eq!(body["validity"], json!({"customExpirationDate": "2030-01-01"}));
        assert_eq!(
            body["certificate"]["csr"],
            json!({"autoGenerateCSR": false, "encodedCSR": "CSR"})
        );
        assert_eq!(body["certificate"]["signatureHash"], "SHA-384");
        assert_eq!(
            body["intermediateCA"],
            json!({"commonName": "DigiCert Test SHA2 Intermediate CA-1"})
        );
        assert_eq!(body["digicertOrganizationId"], 525858);
        assert!(body.get("renewal").is_none() && body.get("digicertEVApproverUserIds").is_none());
    }
}
