//! Answers: submit/renew/pickup outcomes, certificate records and their states, additional
//! formats.

use serde::Deserialize;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
