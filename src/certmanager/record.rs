//! The order record kept on a CertificateRequest in the annotation `tlm.certops.dev/order`
//! (cert-manager's status schema is fixed, annotations are ours). It is written before the
//! submit is sent (`submittedAt` only: the in-flight marker), and again with the request id or
//! serial TLM answered, before any waiting. Finding a marker with neither means the answer was
//! lost; the controller then looks for the order instead of sending a second one.

use k8s_openapi::jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub const ORDER_ANNOTATION: &str = "tlm.certops.dev/order";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRecord {
    /// When the submit was (about to be) sent, RFC 3339.
    pub submitted_at: String,
    /// The TLM profile the order went to (the Issuer's may change meanwhile).
    pub profile_id: String,
    /// A request awaiting approval in TLM, picked up with backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// A certificate issued without its PEM in the answer, read by serial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

impl OrderRecord {
    pub fn in_flight(profile_id: &str, now: Timestamp) -> Self {
        Self {
            submitted_at: now.to_string(),
            profile_id: profile_id.to_string(),
            request_id: None,
            serial_number: None,
        }
    }

    /// Reads the annotation; `Ok(None)` when there is none.
    pub fn parse(value: Option<&str>) -> Result<Option<Self>, String> {
        let Some(text) = value else {
            return Ok(None);
        };
        let record: Self = serde_json::from_str(text)
            .map_err(|e| format!("annotation {ORDER_ANNOTATION} cannot be read: {e}"))?;
        record.submitted()?;
        Ok(Some(record))
    }

    pub fn submitted(&self) -> Result<Timestamp, String> {
        self.submitted_at
            .parse()
            .map_err(|e| format!("annotation {ORDER_ANNOTATION} has a bad submittedAt: {e}"))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an order record serializes")
    }

    /// Neither a request id nor a serial: the submit's answer was never recorded.
    pub fn unanswered(&self) -> bool {
        self.request_id.is_none() && self.serial_number.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
        let mut record = OrderRecord::in_flight("prof", now);
        assert!(record.unanswered());
        record.request_id = Some("req-1".into());
        let text = record.to_json();
        assert_eq!(
            text,
            r#"{"submittedAt":"2026-11-23T12:00:00Z","profileId":"prof","requestId":"req-1"}"#
        );
        assert_eq!(OrderRecord::parse(Some(&text)).unwrap(), Some(record));
        assert_eq!(OrderRecord::parse(None).unwrap(), None);
        assert!(OrderRecord::parse(Some("{")).is_err());
        assert!(OrderRecord::parse(Some(r#"{"submittedAt":"soon","profileId":"p"}"#)).is_err());
    }
}
