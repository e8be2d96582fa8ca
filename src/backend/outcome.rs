//! What the Certificate lifecycle asks a backend and what it hears back, in no service's terms.
//! Every backend maps its own wire onto these; the steps decide on nothing else.

use k8s_openapi::jiff::Timestamp;

use crate::api::CertificateSpec;
use crate::pki::{CertDer, PrivateKey};

/// The Certificate an order is for: named in the audit trail a backend leaves with the order
/// (CertCentral's order note), and what crash recovery recognises the order by (the UID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// An order to place: a new certificate for `csr`, or the renewal of one we hold.
pub struct OrderInput<'a> {
    /// The Certificate's name, for logs only.
    pub certificate: &'a str,
    pub owner: &'a Owner,
    pub spec: &'a CertificateSpec,
    /// PEM CSR signed by the next key.
    pub csr: String,
    /// Renew this certificate where the service allows it (a backend that cannot renew, or is
    /// refused, orders anew).
    pub renew: Option<Renewal>,
}

/// The certificate being renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    pub serial: String,
    /// SHA-256 of its DER: names it when the service holds several certificates with one serial.
    pub thumbprint_sha256: Option<String>,
}

/// What an order (or a later look at it) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOutcome {
    /// Issued, and the certificate came with the answer (PEM or base64 DER, perhaps with
    /// intermediates).
    Issued { serial: String, certificate: String },
    /// Issued, but the certificate is to be read by serial ([`super::Backend::certificate`]).
    IssuedWithoutCertificate { serial: String },
    /// Waiting (for approval, validation...): asked again with
    /// [`super::Backend::poll_order`]. `why` is the service's own word for it, if it gave one.
    Pending {
        request_id: String,
        awaiting: Awaiting,
        why: Option<String>,
    },
    /// Refused by the service or an approver; this order is over.
    Rejected,
    /// Ended without a certificate for another reason (canceled, or revoked or expired before
    /// delivery); `status` is the service's word.
    Canceled { status: String },
    /// A status the operator does not know.
    UnknownStatus(String),
}

/// What a pending order waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaiting {
    /// A person approving the request in the service.
    Approval,
    /// The CA: domain or organization validation, or issuance.
    Validation,
}

/// The state of an issued certificate in the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertState {
    Issued,
    Revoked,
    Expired,
    Suspended,
    Unknown(String),
}

impl CertState {
    /// The lower-case name used in conditions and Events.
    pub fn name(&self) -> &str {
        match self {
            CertState::Issued => "issued",
            CertState::Revoked => "revoked",
            CertState::Expired => "expired",
            CertState::Suspended => "suspended",
            CertState::Unknown(v) => v,
        }
    }
}

/// An issued certificate as the service holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub state: CertState,
    /// As the service returned it (PEM or base64 DER), when it did.
    pub certificate: Option<String>,
}

/// What to look for after a crash: an order for this Certificate placed with `key`.
pub struct KeySearch<'a> {
    pub spec: &'a CertificateSpec,
    pub owner: &'a Owner,
    pub key: &'a PrivateKey,
    /// Only certificates issued after this (with `rotationPolicy: Never` the current
    /// certificate has the same key and is not the lost order).
    pub issued_after: Option<Timestamp>,
}

/// An order found for our key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundOrder {
    /// Issued: the certificate, as the service returned it (base64 DER or PEM).
    Issued { serial: String, certificate: String },
    /// Still waiting (a service whose pending orders can be listed): polled with
    /// [`super::Backend::poll_order`].
    Pending { request_id: String },
}

/// The certificates to build the Secret's chain from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainOutcome {
    /// Leaf, intermediates and root, in no particular order (the caller orders and verifies).
    Certs(Vec<CertDer>),
    /// The service's answer cannot be used: the issuance fails with this reason.
    Unusable { reason: &'static str, message: String },
}
