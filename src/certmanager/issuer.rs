//! The Issuer or ClusterIssuer a CertificateRequest names, from the operator's caches, as the
//! plain facts `decide` needs.

use kube::runtime::reflector::ObjectRef;

use super::api::CertificateRequest;
use crate::api::{IssuerKind, IssuerLike, READY, TlmIssuerConfig, Validity, conditions};
use crate::backend::registry::IssuerKey;
use crate::context::Context;

/// What the controller knows about the referenced issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerState {
    /// `spec.issuerRef.kind` is neither Issuer nor ClusterIssuer.
    UnknownKind(String),
    NotFound(String),
    /// Exists, not checked yet.
    Unchecked(String),
    NotReady {
        what: String,
        reason: String,
        message: String,
    },
    Ready(ReadyProfile),
}

/// A ready issuer's profile, as its status summarises it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadyProfile {
    /// Anything but `third_party_app` (or unknown) may hold requests for approval.
    pub may_need_approval: bool,
    /// `override_cert_validity_via_api`.
    pub validity_override: bool,
    /// "365 days", for messages.
    pub profile_validity: Option<String>,
    /// The Issuer's own `validity`, used when the request names no duration.
    pub issuer_validity: Option<Validity>,
}

/// The referenced issuer: its registry key and TLM settings (when it exists) and its state.
pub struct Referenced {
    pub key: Option<IssuerKey>,
    pub tlm: Option<TlmIssuerConfig>,
    pub state: IssuerState,
}

pub fn referenced(cr: &CertificateRequest, ctx: &Context) -> Referenced {
    let r = &cr.spec.issuer_ref;
    let kind = match r.kind.as_deref().unwrap_or("") {
        "" | "Issuer" => IssuerKind::Issuer,
        "ClusterIssuer" => IssuerKind::ClusterIssuer,
        other => {
            return Referenced {
                key: None,
                tlm: None,
                state: IssuerState::UnknownKind(other.to_string()),
            };
        }
    };
    let namespace = cr.metadata.namespace.clone().unwrap_or_default();
    let (what, found) = match kind {
        IssuerKind::Issuer => (
            format!("Issuer {namespace}/{}", r.name),
            ctx.issuers
                .get(&ObjectRef::new(&r.name).within(&namespace))
                .map(|i| (i.tlm().cloned(), i.issuer_status().cloned())),
        ),
        IssuerKind::ClusterIssuer => (
            format!("ClusterIssuer {}", r.name),
            ctx.cluster_issuers
                .get(&ObjectRef::new(&r.name))
                .map(|i| (i.tlm().cloned(), i.issuer_status().cloned())),
        ),
    };
    let Some((tlm, status)) = found else {
        return Referenced {
            key: None,
            tlm: None,
            state: IssuerState::NotFound(what),
        };
    };
    // The cert-manager integration serves TLM issuers only.
    let Some(tlm) = tlm else {
        return Referenced {
            key: None,
            tlm: None,
            state: IssuerState::NotFound(format!(
                "{what} with spec.tlm (the cert-manager integration serves TLM issuers only)"
            )),
        };
    };
    let key = IssuerKey {
        kind,
        namespace: (kind == IssuerKind::Issuer).then_some(namespace),
        name: r.name.clone(),
    };
    let status = status.unwrap_or_default();
    let state = match conditions::find(&status.conditions, READY) {
        Some(c) if c.status == "True" => {
            let profile = status.profile.as_ref();
            IssuerState::Ready(ReadyProfile {
                may_need_approval: !profile
                    .and_then(|p| p.authentication_method.as_deref())
                    .is_some_and(|m| m.eq_ignore_ascii_case("third_party_app")),
                validity_override: profile.and_then(|p| p.validity_override) == Some(true),
                profile_validity: profile.and_then(|p| p.validity.clone()),
                issuer_validity: tlm.validity.clone(),
            })
        }
        Some(c) => IssuerState::NotReady {
            what,
            reason: c.reason.clone(),
            message: c.message.clone(),
        },
        None => IssuerState::Unchecked(what),
    };
    Referenced {
        key: Some(key),
        tlm: Some(tlm),
        state,
    }
}
