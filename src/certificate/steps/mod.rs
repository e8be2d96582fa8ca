//! Performing one step of the lifecycle. Each step makes at most one write that matters for
//! crash safety and updates the observation with what the API server returned.
//!
//! - `progress`: status-only steps, the start and the end of an issuance;
//! - `keys`: the next-key Secret;
//! - `order`: ordering (or renewing), and finding an order an earlier attempt placed;
//! - `waiting`: a placed order not yet delivered (pickup, status by serial), and the periodic
//!   check of an issued certificate;
//! - `deliver`: chain completion, verification and the Secret write;
//! - `failure`: what a failed step leaves in status.
//!
//! Steps talk to the issuer's service only through `crate::backend::Backend`.

mod deliver;
mod failure;
mod keys;
mod order;
mod progress;
mod waiting;

pub use deliver::repair_secret;
pub use keys::{create_next_key, discard_next_key};
pub use order::submit;
pub use progress::{begin_issuance, cleanup, finalize, refuse, sync_status, wait_for_issuer};
pub use waiting::{check_issued, pickup, poll};
pub(super) use {backend_for as backend_of, backend_spec as backend_spec_of};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;

use super::ReconcileError;
use super::observe::{IssuerRefd, Observation};
use crate::api::IssuerBackendConfig;
use crate::backend::certcentral::CertCentralSpec;
use crate::backend::qualys::QualysSpec;
use crate::backend::tlm::TlmSpec;
use crate::backend::{Backend, BackendSpec, Owner};
use crate::certificate::observed::IssuerView;
use crate::context::Context;
use crate::pki::PrivateKey;

fn now() -> Timestamp {
    Timestamp::now()
}

fn secrets(ctx: &Context, obs: &Observation) -> Api<Secret> {
    Api::namespaced(ctx.client.clone(), &obs.cert.namespace().unwrap_or_default())
}

fn generation(obs: &Observation) -> Option<i64> {
    obs.cert.metadata.generation
}

fn next_private_key(obs: &Observation) -> Result<PrivateKey, ReconcileError> {
    key_in(obs.next_key.as_ref())
}

/// One data item of a Secret as text (empty when absent).
fn secret_text(secret: Option<&Secret>, item: &str) -> String {
    secret
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get(item))
        .map(|ByteString(b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The private key (`tls.key`) a Secret holds.
fn key_in(secret: Option<&Secret>) -> Result<PrivateKey, ReconcileError> {
    PrivateKey::from_pem(&secret_text(secret, "tls.key")).map_err(ReconcileError::Pki)
}

/// The Certificate as orders name it (audit trail, crash recovery).
fn owner(obs: &Observation) -> Owner {
    Owner {
        namespace: obs.cert.namespace().unwrap_or_default(),
        name: obs.cert.name_any(),
        uid: obs.uid(),
    }
}

/// The name of the observed next-key Secret (a first issuance's is not in status yet).
fn next_key_name_of(obs: &Observation) -> Option<String> {
    obs.next_key.as_ref().and_then(|s| s.metadata.name.clone())
}

/// What the issuer's spec and health check say of its backend.
pub(super) fn backend_spec(issuer: &IssuerRefd) -> BackendSpec {
    let (validity_override, profile_validity) = match &issuer.view {
        IssuerView::Ready(r) => (r.validity_override, r.profile_validity.clone()),
        _ => (false, None),
    };
    match &issuer.backend {
        IssuerBackendConfig::Tlm(config) => BackendSpec::Tlm(TlmSpec {
            config: config.clone(),
            validity_override,
            profile_validity,
        }),
        IssuerBackendConfig::CertCentral(config) => BackendSpec::CertCentral(CertCentralSpec {
            config: config.clone(),
        }),
        IssuerBackendConfig::QualysCertView(config) => BackendSpec::Qualys(QualysSpec {
            config: config.clone(),
        }),
    }
}

/// The issuer's backend, its requests counted against the Certificate's namespace.
pub(super) async fn backend_for(ctx: &Context, issuer: &IssuerRefd) -> Result<Backend, ReconcileError> {
    ctx.registry
        .backend(
            &ctx.client,
            &issuer.key,
            backend_spec(issuer),
            issuer.tenant.clone(),
            ctx.chain_roots.clone(),
        )
        .await
        .map_err(ReconcileError::Credentials)
}
