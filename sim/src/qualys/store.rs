//! What the simulated Qualys subscription remembers: the JWTs it handed out and every
//! enrollment request, oldest first.

use std::collections::HashMap;

use rcgen::SubjectPublicKeyInfo;
use serde_json::Value;
use time::OffsetDateTime;

use crate::ca::IssuedCertificate;
use crate::faults::IssuanceFaults;

/// The request's Qualys status (`status`), as the view page lists them plus `REJECTED`, which
/// the status-update page lets an approver set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Submitted,
    Approved,
    Issued,
    Cancelled,
    Rejected,
}

impl Status {
    pub fn wire_name(self) -> &'static str {
        match self {
            Status::Submitted => "SUBMITTED",
            Status::Approved => "APPROVED",
            Status::Issued => "ISSUED",
            Status::Cancelled => "CANCELLED",
            Status::Rejected => "REJECTED",
        }
    }
}

/// What the leaf is signed for: the CSR's key and the names the request asked for.
#[derive(Clone, Debug)]
pub struct LeafRequest {
    pub public_key: SubjectPublicKeyInfo,
    pub spki_sha256: String,
    pub rsa: bool,
    pub common_name: String,
    pub organization_units: Vec<String>,
    /// The common name first, then the other DNS names, normalised and de-duplicated.
    pub dns_names: Vec<String>,
    pub not_after: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct Enrollment {
    pub uuid: String,
    pub requester: String,
    pub approvers: Vec<String>,
    pub common_name: String,
    pub organization_units: Vec<String>,
    pub signature_hash: String,
    pub encoded_csr: String,
    /// `certificate.dnsNames` as sent (`None` when absent).
    pub dns_names: Option<Vec<String>>,
    pub renewal: Option<Value>,
    pub validity: Value,
    pub organization_id: u64,
    pub product: String,
    pub ev_approvers: Option<Value>,
    pub status: Status,
    /// DigiCert's view of the order: empty until approved, then `pending`, `issued`, `rejected`.
    pub ca_status: String,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    pub leaf: LeafRequest,
    /// Drawn when the request was created; applied when it is signed.
    pub faults: IssuanceFaults,
    pub issued: Option<IssuedCertificate>,
}

#[derive(Default)]
pub struct QualysBook {
    /// Token -> (user, expiry).
    tokens: HashMap<String, (String, OffsetDateTime)>,
    enrollments: Vec<Enrollment>,
}

impl QualysBook {
    pub fn add_token(&mut self, token: String, user: String, expires: OffsetDateTime) {
        let now = OffsetDateTime::now_utc();
        self.tokens.retain(|_, (_, at)| *at > now);
        self.tokens.insert(token, (user, expires));
    }

    /// The user a token was issued to, if it is known and still valid at `now`.
    pub fn token_user(&self, token: &str, now: OffsetDateTime) -> Result<String, TokenProblem> {
        match self.tokens.get(token) {
            None => Err(TokenProblem::Unknown),
            Some((_, expires)) if *expires <= now => Err(TokenProblem::Expired),
            Some((user, _)) => Ok(user.clone()),
        }
    }

    pub fn add(&mut self, enrollment: Enrollment) {
        self.enrollments.push(enrollment);
    }

    pub fn get(&self, uuid: &str) -> Option<&Enrollment> {
        self.enrollments.iter().find(|e| e.uuid == uuid)
    }

    pub fn get_mut(&mut self, uuid: &str) -> Option<&mut Enrollment> {
        self.enrollments.iter_mut().find(|e| e.uuid == uuid)
    }

    pub fn all(&self) -> &[Enrollment] {
        &self.enrollments
    }

    /// The issued enrollment whose leaf has this certhash (SHA-256 of the DER, hex).
    pub fn issued_with_certhash(&self, certhash: &str) -> Option<&Enrollment> {
        self.enrollments.iter().find(|e| {
            e.issued
                .as_ref()
                .is_some_and(|c| c.thumbprint.eq_ignore_ascii_case(certhash))
        })
    }

    /// Whether an open (not final) request already renews the certificate with this certhash.
    pub fn in_renewal(&self, certhash: &str) -> bool {
        self.enrollments.iter().any(|e| {
            matches!(e.status, Status::Submitted | Status::Approved)
                && e.renewal
                    .as_ref()
                    .and_then(|r| r["renewalOfCertificate"].as_str())
                    .is_some_and(|h| h.eq_ignore_ascii_case(certhash))
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenProblem {
    Unknown,
    Expired,
}
