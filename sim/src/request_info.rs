//! What `GET /sim/requests` and `Sim::requests` report about each accepted submit or renew.

use serde::{Deserialize, Serialize};

use crate::tlm::store::RequestRecord;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    /// The id the client was given (requests that were answered `PENDING` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub profile_id: String,
    /// `PENDING`, `ISSUED` or `REJECTED`.
    pub status: String,
    /// Only once issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// SHA-256 (lower-case hex) of the CSR's SubjectPublicKeyInfo DER.
    pub public_key_sha256: String,
}

impl From<&RequestRecord> for RequestInfo {
    fn from(record: &RequestRecord) -> Self {
        RequestInfo {
            request_id: record.request_id.clone(),
            profile_id: record.profile_id.to_string(),
            status: record.state.wire_name().to_string(),
            serial_number: record.serial.clone(),
            public_key_sha256: record.order.spki_sha256.clone(),
        }
    }
}
