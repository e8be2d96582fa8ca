//! The TLM inventory: every request ever accepted (submit or renew) and every certificate
//! issued. Requests and certificates are separate because clients see them separately: a
//! request has no serial until it is issued, and a serial may name more than one certificate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rcgen::SubjectPublicKeyInfo;
use time::OffsetDateTime;

use crate::ca::IssuedCertificate;
use crate::csr::KeyKind;
use crate::names::{SubjectAltNames, SubjectFields};

/// Everything needed to sign a leaf, fixed when the request is accepted.
#[derive(Clone, Debug)]
pub struct LeafOrder {
    pub public_key: SubjectPublicKeyInfo,
    pub spki_sha256: String,
    pub key: KeyKind,
    pub subject: SubjectFields,
    pub sans: SubjectAltNames,
    pub validity: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    Pending,
    /// Claimed by whoever is signing it right now; still pending to clients.
    Issuing,
    Issued,
    Rejected,
}

impl RequestState {
    /// As pickup answers and `GET /sim/requests` spell it.
    pub fn wire_name(self) -> &'static str {
        match self {
            RequestState::Pending | RequestState::Issuing => "PENDING",
            RequestState::Issued => "ISSUED",
            RequestState::Rejected => "REJECTED",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// The handle the client was given; only requests answered `PENDING` at submit have one.
    pub request_id: Option<String>,
    pub profile_id: &'static str,
    pub seat_id: String,
    pub order: Arc<LeafOrder>,
    pub include_ca_chain: bool,
    pub state: RequestState,
    /// Set once issued; never shown to clients before.
    pub serial: Option<String>,
    pub pickups: u32,
    pub renewal_of: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateState {
    Issued,
    Revoked {
        reason: String,
        at: OffsetDateTime,
    },
    Suspended {
        at: OffsetDateTime,
    },
    /// Set through the admin API; otherwise expiry follows `not_after`.
    Expired,
}

#[derive(Clone, Debug)]
pub struct CertificateRecord {
    /// Creation order: among certificates sharing a serial, the highest is the real one.
    pub seq: u64,
    pub serial: String,
    pub profile_id: &'static str,
    pub seat_id: String,
    /// What the request asked for: a renewal starts from these names.
    pub requested: Arc<LeafOrder>,
    /// What the certificate really carries (differs under the wrong_key / wrong_names faults).
    pub issued: Arc<LeafOrder>,
    pub certificate: Arc<IssuedCertificate>,
    pub state: CertificateState,
    pub include_ca_chain: bool,
    /// Served with the impostor intermediate, forever (the broken_chain fault).
    pub broken_chain: bool,
    pub renewal_of: Option<String>,
}

impl CertificateRecord {
    /// The spec's status: `issued | revoked | expired | suspended`.
    pub fn status(&self, now: OffsetDateTime) -> &'static str {
        match self.state {
            CertificateState::Revoked { .. } => "revoked",
            CertificateState::Suspended { .. } => "suspended",
            CertificateState::Expired => "expired",
            CertificateState::Issued if now > self.certificate.not_after => "expired",
            CertificateState::Issued => "issued",
        }
    }
}

#[derive(Default)]
pub struct CertificateStore {
    requests: Vec<RequestRecord>,
    request_index: HashMap<String, usize>,
    certificates: Vec<CertificateRecord>,
    by_serial: HashMap<String, Vec<usize>>,
    next_seq: u64,
}

impl CertificateStore {
    /// Stores an accepted request; returns its index (the handle for requests without an id).
    pub fn add_request(&mut self, record: RequestRecord) -> usize {
        let index = self.requests.len();
        if let Some(request_id) = &record.request_id {
            self.request_index.insert(request_id.clone(), index);
        }
        self.requests.push(record);
        index
    }

    pub fn request_index(&self, request_id: &str) -> Option<usize> {
        self.request_index.get(request_id).copied()
    }

    pub fn request(&self, index: usize) -> Option<&RequestRecord> {
        self.requests.get(index)
    }

    pub fn request_mut(&mut self, index: usize) -> Option<&mut RequestRecord> {
        self.requests.get_mut(index)
    }

    pub fn requests(&self) -> &[RequestRecord] {
        &self.requests
    }

    pub fn serial_taken(&self, serial: &str) -> bool {
        self.by_serial.contains_key(&serial.to_ascii_uppercase())
    }

    /// Stores an issued certificate; later ones with the same serial count as newer.
    pub fn add_certificate(&mut self, mut record: CertificateRecord) -> usize {
        self.next_seq += 1;
        record.seq = self.next_seq;
        let index = self.certificates.len();
        self.by_serial
            .entry(record.serial.to_ascii_uppercase())
            .or_default()
            .push(index);
        self.certificates.push(record);
        index
    }

    /// Every certificate with this serial (matched case-insensitively, as clients copy serials
    /// in either case), oldest first.
    pub fn with_serial(&self, serial: &str) -> Vec<usize> {
        self.by_serial
            .get(&serial.to_ascii_uppercase())
            .cloned()
            .unwrap_or_default()
    }

    /// The real certificate behind a serial: the newest one.
    pub fn newest_with_serial(&self, serial: &str) -> Option<usize> {
        self.with_serial(serial)
            .into_iter()
            .max_by_key(|&i| self.certificates[i].seq)
    }

    pub fn certificate(&self, index: usize) -> Option<&CertificateRecord> {
        self.certificates.get(index)
    }

    pub fn certificate_mut(&mut self, index: usize) -> Option<&mut CertificateRecord> {
        self.certificates.get_mut(index)
    }

    pub fn certificates(&self) -> &[CertificateRecord] {
        &self.certificates
    }
}
