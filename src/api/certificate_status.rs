//! What the operator reports about a Certificate: its status and the TLM request in flight.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a Certificate.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// `Ready` (the Secret holds a valid certificate for the current spec) and `Issuing` (an
    /// issuance is in progress), each with a reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Serial number (hex) of the certificate in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// SHA-256 thumbprint (hex) of the certificate in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// SHA-256 (hex) of the certificate's public key (SubjectPublicKeyInfo), as Certificate
    /// Transparency monitors report it: the operator's own record of the keys it generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_sha256: Option<String>,
    /// Start of the certificate's validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// End of the certificate's validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
    /// When the operator will renew the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<Time>,
    /// Number of certificates issued for this Certificate so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// The Secret holding the private key of the issuance in progress. Recorded before the key
    /// is used, so a restart never loses or replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_private_key_secret_name: Option<String>,
    /// The TLM request of the issuance in progress.
    // Boxed: set only while an issuance is in flight, and the Certificate cache holds every
    // object's inline size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_request: Option<Box<PendingRequest>>,
    /// When the last issuance attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
    /// Consecutive failed issuance attempts; reset by success or a spec change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i32>,
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A request submitted to TLM and not yet finished.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PendingRequest {
    /// Serial number TLM returned for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Pickup request ID, for profiles that issue asynchronously through a pickup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_request_id: Option<String>,
    /// SHA-256 (hex) of the public key the request was made for.
    pub public_key_sha256: String,
    /// The Certificate generation the request was made for.
    pub generation: i64,
    /// When the request was submitted.
    pub submitted_at: Time,
    /// Status polls made so far (drives the poll backoff).
    #[serde(default)]
    pub polls: u32,
}
