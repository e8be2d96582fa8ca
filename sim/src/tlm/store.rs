//! The TLM certificate inventory: every request ever accepted, by serial, with its state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rcgen::SubjectPublicKeyInfo;

use crate::ca::IssuedCertificate;
use crate::csr::KeyKind;
use crate::names::{SubjectAltNames, SubjectFields};

/// Everything needed to sign the leaf, fixed when the request is accepted.
#[derive(Clone, Debug)]
pub struct LeafOrder {
    pub public_key: SubjectPublicKeyInfo,
    pub spki_sha256: String,
    pub key: KeyKind,
    pub subject: SubjectFields,
    pub sans: SubjectAltNames,
    pub validity: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordState {
    Pending,
    /// Claimed by whoever is signing it right now; still `pending` to clients.
    Issuing,
    Issued,
    Rejected,
    Revoked {
        reason: Option<String>,
    },
}

impl RecordState {
    pub fn wire_name(&self) -> &'static str {
        match self {
            RecordState::Pending | RecordState::Issuing => "pending",
            RecordState::Issued => "issued",
            RecordState::Rejected => "rejected",
            RecordState::Revoked { .. } => "revoked",
        }
    }
}

#[derive(Clone, Debug)]
pub struct CertificateRecord {
    pub serial: String,
    pub serial_bytes: [u8; 20],
    pub request_id: Option<String>,
    /// Acceptance order; search lists newest first.
    pub seq: u64,
    pub profile_id: &'static str,
    pub seat_id: Option<String>,
    pub order: Arc<LeafOrder>,
    pub state: RecordState,
    pub certificate: Option<Arc<IssuedCertificate>>,
    pub status_polls: u32,
    pub pickup_polls: u32,
    pub renewal_of: Option<String>,
}

#[derive(Default)]
pub struct CertificateStore {
    records: HashMap<String, CertificateRecord>,
    serial_by_request_id: HashMap<String, String>,
    next_seq: u64,
}

impl CertificateStore {
    /// Stores a newly accepted request; `false` if the serial is already taken.
    pub fn insert(&mut self, mut record: CertificateRecord) -> bool {
        if self.records.contains_key(&record.serial) {
            return false;
        }
        self.next_seq += 1;
        record.seq = self.next_seq;
        if let Some(request_id) = &record.request_id {
            self.serial_by_request_id
                .insert(request_id.clone(), record.serial.clone());
        }
        self.records.insert(record.serial.clone(), record);
        true
    }

    /// Serials are matched case-insensitively, as clients copy them in either case.
    pub fn get(&self, serial: &str) -> Option<&CertificateRecord> {
        self.records.get(&serial.to_ascii_uppercase())
    }

    pub fn get_mut(&mut self, serial: &str) -> Option<&mut CertificateRecord> {
        self.records.get_mut(&serial.to_ascii_uppercase())
    }

    pub fn serial_for_request(&self, request_id: &str) -> Option<String> {
        self.serial_by_request_id.get(request_id).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &CertificateRecord> {
        self.records.values()
    }
}
