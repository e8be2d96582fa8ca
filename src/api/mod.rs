//! The custom resources of `tlm.certops.dev/v1alpha1`. These Rust types are the single source of
//! truth: `crds/` and the chart's CRDs are generated from them.

// Clippy reads the repeated `printcolumn(name = .., type_ = ..)` arguments of `#[kube(...)]` as
// duplicated attributes; they are separate columns.
#![allow(clippy::duplicated_attributes)]

mod certificate;
mod certificate_parts;
mod certificate_status;
pub mod conditions;
mod ctwatch;
mod issuer;
mod references;

pub use certificate::*;
pub use certificate_parts::*;
pub use certificate_status::*;
pub use conditions::{Condition, ConditionValue, ISSUING, READY};
pub use ctwatch::*;
pub use issuer::*;
pub use references::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every resource here.
pub const GROUP: &str = "tlm.certops.dev";
/// Annotations and labels under this prefix belong to the operator; users may not set them
/// through `secretTemplate`.
pub const OPERATOR_PREFIX: &str = "tlm.certops.dev/";

/// All CRDs this operator serves, in a stable order (`tlm-operator crds`, `crds/`, the chart).
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        Certificate::crd(),
        ClusterIssuer::crd(),
        CTWatch::crd(),
        Issuer::crd(),
    ]
}
