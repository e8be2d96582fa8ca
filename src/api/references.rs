//! Small reference types shared by several resources.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Points at one key of a Secret. For namespaced resources the Secret lives in the resource's
/// namespace; for a ClusterIssuer it lives in the operator's ClusterIssuer namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret's data whose value is used.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}
