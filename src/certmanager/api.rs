//! The few fields of cert-manager's `cert-manager.io/v1` `CertificateRequest` this controller
//! reads and writes, hand-written (no cert-manager crate): the CRD's schema is cert-manager's
//! and fixed, so only its status fields and our own annotation are written.

use std::borrow::Cow;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Resource;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "cert-manager.io";
pub const VERSION: &str = "v1";
pub const KIND: &str = "CertificateRequest";
pub const PLURAL: &str = "certificaterequests";
/// The CRD whose presence the controller checks at startup.
pub const CRD_NAME: &str = "certificaterequests.cert-manager.io";

/// `spec.issuerRef.group` of requests this operator serves.
pub const OUR_GROUP: &str = "tlm.certops.dev";

// Condition types and reasons of cert-manager's external-issuer contract.
pub const READY: &str = "Ready";
pub const APPROVED: &str = "Approved";
pub const DENIED: &str = "Denied";
pub const REASON_PENDING: &str = "Pending";
pub const REASON_FAILED: &str = "Failed";
pub const REASON_ISSUED: &str = "Issued";
pub const REASON_DENIED: &str = "Denied";
pub const REASON_INVALID: &str = "InvalidRequest";

/// A cert-manager CertificateRequest: only what this controller uses. Unknown fields are
/// ignored on read and never written back (every write is a merge patch of named fields).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CertificateRequest {
    /// `cert-manager.io/v1` as read (kept so the object can be sent back whole).
    #[serde(default, rename = "apiVersion", skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: CertificateRequestSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CertificateRequestStatus>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestSpec {
    /// Base64 (in JSON) of a PEM CSR; serde sees the base64 text.
    #[serde(default)]
    pub request: String,
    #[serde(default)]
    pub issuer_ref: IssuerReference,
    /// A Go duration such as `2160h0m0s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, rename = "isCA", skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usages: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuerReference {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<RequestCondition>,
    /// Base64 (in JSON) of the PEM chain, leaf first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Base64 (in JSON) of the PEM CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_time: Option<Time>,
}

/// cert-manager's `CertificateRequestCondition` (not metav1.Condition: reason and message are
/// optional, `observedGeneration` too).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RequestCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl Resource for CertificateRequest {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        KIND.into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        GROUP.into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        VERSION.into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        PLURAL.into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl CertificateRequest {
    pub fn conditions(&self) -> &[RequestCondition] {
        self.status.as_ref().map_or(&[], |s| s.conditions.as_slice())
    }

    pub fn condition(&self, type_: &str) -> Option<&RequestCondition> {
        self.conditions().iter().find(|c| c.type_ == type_)
    }

    pub fn is_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status == "True")
    }

    /// Whether `spec.issuerRef` names one of our issuers (group `tlm.certops.dev`, kind
    /// `Issuer`, `ClusterIssuer` or empty).
    pub fn is_ours(&self) -> bool {
        self.spec.issuer_ref.group.as_deref() == Some(OUR_GROUP)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_cert_manager_writes() {
        let cr: CertificateRequest = serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
            "metadata": {"name": "web-1", "namespace": "app"},
            "spec": {"request": "LS0t", "isCA": false, "duration": "2160h0m0s",
                     "issuerRef": {"name": "tlm", "kind": "ClusterIssuer", "group": "tlm.certops.dev"},
                     "usages": ["digital signature"], "username": "system:serviceaccount:x"},
            "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "cert-manager.io",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }))
        .unwrap();
        assert!(cr.is_ours());
        assert!(cr.is_true(APPROVED));
        assert!(!cr.is_true(DENIED));
        assert_eq!(cr.spec.is_ca, Some(false));
        assert_eq!(cr.spec.duration.as_deref(), Some("2160h0m0s"));
        assert_eq!(CertificateRequest::api_version(&()), "cert-manager.io/v1");
    }
}
