//! Issuance backends: the services a Certificate's key is certified by, behind one interface
//! the Certificate lifecycle uses without knowing which service it talks to
//! (docs/architecture.md, "The backend seam").
//!
//! A backend is an enum, not a trait object: each variant maps the lifecycle's questions (order,
//! poll, read by serial, complete the chain, find a lost order, revoke) onto its service's wire,
//! and answers in the service-neutral types of `outcome`. Failures are `ServiceError`s, whose
//! classes (transient, auth, invalid input...) drive the lifecycle's failure policy.

pub mod certcentral;
pub mod chain_roots;
mod credentials;
mod dns_order;
mod outcome;
pub mod qualys;
pub mod registry;
pub mod tlm;

use std::sync::Arc;

pub use outcome::{
    Awaiting, CertState, ChainOutcome, FoundOrder, IssuedCertificate, KeySearch, OrderInput, OrderOutcome,
    Owner, Renewal,
};

use crate::api::CertificateSpec;
use crate::clients::error::ServiceError;
use crate::clients::fair_turns::Tenant;
use crate::pki::CertDer;
use certcentral::{CertCentralBackend, CertCentralSpec};
use chain_roots::ChainRoots;
use qualys::{QualysBackend, QualysSpec};
use registry::{ClientRegistry, CredentialError, IssuerKey};
use tlm::{TlmBackend, TlmSpec};

/// What the lifecycle knows of an issuer's backend before talking to it: its spec and what the
/// issuer's health check found. Enough for messages and notes; no client.
#[derive(Clone, Debug)]
pub enum BackendSpec {
    Tlm(TlmSpec),
    CertCentral(CertCentralSpec),
    Qualys(QualysSpec),
}

impl BackendSpec {
    /// The service's name, as conditions and Events say it ("TLM").
    pub fn service(&self) -> &'static str {
        match self {
            BackendSpec::Tlm(_) => "TLM",
            BackendSpec::CertCentral(_) => "CertCentral",
            BackendSpec::Qualys(_) => "Qualys",
        }
    }

    /// Where orders go, as Events name it ("TLM profile p-1").
    pub fn ordered_from(&self) -> String {
        match self {
            BackendSpec::Tlm(spec) => spec.ordered_from(),
            BackendSpec::CertCentral(spec) => spec.ordered_from(),
            BackendSpec::Qualys(spec) => spec.ordered_from(),
        }
    }

    /// The message for a 403: what the user should check.
    pub fn access_denied(&self, e: &ServiceError) -> String {
        match self {
            BackendSpec::Tlm(spec) => spec.access_denied(e),
            BackendSpec::CertCentral(spec) => spec.access_denied(e),
            BackendSpec::Qualys(spec) => spec.access_denied(e),
        }
    }

    /// Why the certificate's validity is not what the Certificate asked for, if it is not.
    pub fn validity_note(&self, spec: &CertificateSpec) -> Option<String> {
        match self {
            BackendSpec::Tlm(tlm) => tlm.validity_note(spec),
            BackendSpec::CertCentral(cc) => cc.validity_note(spec),
            BackendSpec::Qualys(q) => q.validity_note(spec),
        }
    }
}

/// An issuer's backend, ready to be asked. Built per step by [`ClientRegistry::backend`]; cheap.
pub enum Backend {
    Tlm(TlmBackend),
    CertCentral(CertCentralBackend),
    Qualys(QualysBackend),
}

impl Backend {
    pub fn spec(&self) -> BackendSpec {
        match self {
            Backend::Tlm(b) => BackendSpec::Tlm(b.spec().clone()),
            Backend::CertCentral(b) => BackendSpec::CertCentral(b.spec().clone()),
            Backend::Qualys(b) => BackendSpec::Qualys(b.spec().clone()),
        }
    }

    pub fn service(&self) -> &'static str {
        match self {
            Backend::Tlm(_) => "TLM",
            Backend::CertCentral(_) => "CertCentral",
            Backend::Qualys(_) => "Qualys",
        }
    }

    /// Places an order (or renews). Sent once: retried only when the service certainly did not
    /// act on it.
    pub async fn order(&self, input: &OrderInput<'_>) -> Result<OrderOutcome, ServiceError> {
        match self {
            Backend::Tlm(b) => b.order(input).await,
            Backend::CertCentral(b) => b.order(input).await,
            Backend::Qualys(b) => b.order(input).await,
        }
    }

    /// Asks again about an order that was pending (`OrderOutcome::Pending::request_id`).
    pub async fn poll_order(&self, request_id: &str) -> Result<OrderOutcome, ServiceError> {
        match self {
            Backend::Tlm(b) => b.poll_order(request_id).await,
            Backend::CertCentral(b) => b.poll_order(request_id).await,
            Backend::Qualys(b) => b.poll_order(request_id).await,
        }
    }

    /// An issued certificate's state, and the certificate when the service returns it.
    pub async fn certificate(&self, serial: &str) -> Result<IssuedCertificate, ServiceError> {
        match self {
            Backend::Tlm(b) => b.certificate(serial).await,
            Backend::CertCentral(b) => b.certificate(serial).await,
            Backend::Qualys(b) => b.certificate(serial).await,
        }
    }

    /// The certificates to build `serial`'s chain from, starting with what was delivered.
    pub async fn complete_chain(
        &self,
        serial: &str,
        delivered: Option<&str>,
        leaf_spki: &[u8],
    ) -> Result<ChainOutcome, ServiceError> {
        match self {
            Backend::Tlm(b) => b.complete_chain(serial, delivered, leaf_spki).await,
            Backend::CertCentral(b) => b.complete_chain(serial, delivered, leaf_spki).await,
            Backend::Qualys(b) => b.complete_chain(serial, delivered, leaf_spki).await,
        }
    }

    /// The CA certificates the service holds for `serial` (to repair a Secret that lost them).
    pub async fn fetch_chain(&self, serial: &str) -> Result<Vec<CertDer>, ServiceError> {
        match self {
            Backend::Tlm(b) => b.fetch_chain(serial).await,
            Backend::CertCentral(b) => b.fetch_chain(serial).await,
            Backend::Qualys(b) => b.fetch_chain(serial).await,
        }
    }

    /// Whether the service can be asked about a certificate by its serial (periodic status
    /// checks, revocation). Qualys CertView cannot.
    pub fn looks_up_serials(&self) -> bool {
        !matches!(self, Backend::Qualys(_))
    }

    /// A verified chain reached the Secret (a backend may remember its roots).
    pub fn chain_delivered(&self, chain: &[CertDer]) {
        match self {
            Backend::Tlm(b) => b.chain_delivered(chain),
            Backend::CertCentral(b) => b.chain_delivered(chain),
            Backend::Qualys(b) => b.chain_delivered(chain),
        }
    }

    /// An order an earlier attempt may have placed with this key (crash recovery).
    pub async fn find_order(&self, search: &KeySearch<'_>) -> Result<Option<FoundOrder>, ServiceError> {
        match self {
            Backend::Tlm(b) => b.find_order(search).await,
            Backend::CertCentral(b) => b.find_order(search).await,
            Backend::Qualys(b) => b.find_order(search).await,
        }
    }

    /// Revokes an issued certificate (the Certificate was deleted with `revokeOnDelete`).
    pub async fn revoke(&self, serial: &str, thumbprint_sha256: Option<&str>) -> Result<(), ServiceError> {
        match self {
            Backend::Tlm(b) => b.revoke(serial, thumbprint_sha256).await,
            Backend::CertCentral(b) => b.revoke(serial, thumbprint_sha256).await,
            Backend::Qualys(b) => b.revoke(serial, thumbprint_sha256).await,
        }
    }
}

impl ClientRegistry {
    /// The backend of an issuer, its requests counted against `tenant`.
    pub async fn backend(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        spec: BackendSpec,
        tenant: Tenant,
        roots: Arc<ChainRoots>,
    ) -> Result<Backend, CredentialError> {
        match spec {
            BackendSpec::Tlm(spec) => {
                let client = self.client(kube, key, &spec.config).await?.for_tenant(tenant);
                Ok(Backend::Tlm(TlmBackend::new(client, spec, key.clone(), roots)))
            }
            BackendSpec::CertCentral(spec) => {
                let client = self
                    .certcentral_client(kube, key, &spec.config)
                    .await?
                    .for_tenant(tenant);
                Ok(Backend::CertCentral(CertCentralBackend::new(client, spec)))
            }
            BackendSpec::Qualys(spec) => {
                let client = self
                    .qualys_client(kube, key, &spec.config)
                    .await?
                    .for_tenant(tenant);
                Ok(Backend::Qualys(QualysBackend::new(client, spec)))
            }
        }
    }
}
