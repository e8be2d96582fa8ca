//! DigiCert Trust Lifecycle Manager as an issuance backend: the lifecycle's questions mapped
//! onto `clients::tlm` (`docs/tlm-wire.md` has the wire). Submit or renew, pickup of a request
//! awaiting approval, status by serial, chain completion, search by key, revoke.

mod chain;
mod recover;
pub mod request;
mod spec;

use std::sync::Arc;

use super::chain_roots::ChainRoots;
use super::registry::IssuerKey;
use super::{CertState, FoundOrder, IssuedCertificate, KeySearch, OrderInput, OrderOutcome};
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm::TlmClient;
use crate::clients::tlm_types::{CertificateState, IssueOutcome, IssueResponse, RevocationReason};
pub use spec::TlmSpec;

const SERVICE: &str = "TLM";

/// One TLM Issuer, ready to be asked: its client (counted against the Certificate's
/// namespace), what its profile allows, and its learned roots.
pub struct TlmBackend {
    client: TlmClient,
    spec: TlmSpec,
    issuer: IssuerKey,
    roots: Arc<ChainRoots>,
}

impl TlmBackend {
    pub fn new(client: TlmClient, spec: TlmSpec, issuer: IssuerKey, roots: Arc<ChainRoots>) -> Self {
        Self {
            client,
            spec,
            issuer,
            roots,
        }
    }

    pub fn spec(&self) -> &TlmSpec {
        &self.spec
    }

    /// Submit, or renew inside the profile's renewal window (a new order when TLM refuses the
    /// renewal). Not retried unless TLM certainly did not act on it.
    pub async fn order(&self, input: &OrderInput<'_>) -> Result<OrderOutcome, ServiceError> {
        let response = self.send(input).await?;
        outcome(&response, "submit")
    }

    async fn send(&self, input: &OrderInput<'_>) -> Result<IssueResponse, ServiceError> {
        let config = &self.spec.config;
        let allowed = self.spec.validity_override;
        let submit_body = request::submit_request(input.spec, config, allowed, input.csr.clone());
        let Some(renewal) = &input.renew else {
            return self.client.submit(&submit_body).await;
        };
        let body = request::renew_request(input.spec, config, allowed, input.csr.clone());
        match self
            .client
            .renew(&renewal.serial, renewal.thumbprint_sha256.as_deref(), &body)
            .await
        {
            Ok(r) => Ok(r),
            // Not renewable after all (revoked, outside the window...): order anew.
            Err(e)
                if matches!(
                    e.class(),
                    ErrorClass::InvalidInput | ErrorClass::NotFound | ErrorClass::Conflict
                ) =>
            {
                tracing::info!(certificate = %input.certificate, error = %e, "renew refused; submitting a new request instead");
                self.client.submit(&submit_body).await
            }
            Err(e) => Err(e),
        }
    }

    /// `certificate-pickup` of a request awaiting approval: asking again is safe.
    pub async fn poll_order(&self, request_id: &str) -> Result<OrderOutcome, ServiceError> {
        let response = self
            .client
            .pickup(request_id, &self.spec.config.profile_id)
            .await?;
        outcome(&response, "pickup")
    }

    /// `GET /certificate/{serial}`.
    pub async fn certificate(&self, serial: &str) -> Result<IssuedCertificate, ServiceError> {
        let record = self.client.status(serial).await?;
        Ok(IssuedCertificate {
            state: state_of(record.state()),
            certificate: record.certificate,
        })
    }

    /// TLM's search, paged through, for an issued certificate with our key.
    pub async fn find_order(&self, search: &KeySearch<'_>) -> Result<Option<FoundOrder>, ServiceError> {
        let lookup = recover::Lookup {
            profile_id: &self.spec.config.profile_id,
            common_name: search.spec.request_common_name(),
            seat_id: Some(request::seat_id(search.spec, &self.spec.config)),
            key: search.key,
            issued_after: search.issued_after,
        };
        recover::find_order_for_key(&self.client, &lookup).await
    }

    /// Revokes with reason `cessation_of_operation`.
    pub async fn revoke(&self, serial: &str, thumbprint_sha256: Option<&str>) -> Result<(), ServiceError> {
        self.client
            .revoke(serial, thumbprint_sha256, RevocationReason::CessationOfOperation)
            .await
    }
}

/// A submit or pickup answer in the lifecycle's terms; an unreadable one is an unexpected body.
fn outcome(response: &IssueResponse, endpoint: &'static str) -> Result<OrderOutcome, ServiceError> {
    let outcome = response
        .outcome()
        .map_err(|reason| ServiceError::UnexpectedBody {
            service: SERVICE,
            endpoint,
            reason,
        })?;
    Ok(match outcome {
        IssueOutcome::Issued { serial, certificate } => OrderOutcome::Issued { serial, certificate },
        IssueOutcome::IssuedWithoutCertificate { serial } => {
            OrderOutcome::IssuedWithoutCertificate { serial }
        }
        IssueOutcome::Pending { request_id } => OrderOutcome::Pending {
            request_id,
            awaiting: super::Awaiting::Approval,
            why: None,
        },
        IssueOutcome::Rejected => OrderOutcome::Rejected,
        IssueOutcome::UnknownStatus(value) => OrderOutcome::UnknownStatus(value),
    })
}

fn state_of(state: CertificateState) -> CertState {
    match state {
        CertificateState::Issued => CertState::Issued,
        CertificateState::Revoked => CertState::Revoked,
        CertificateState::Expired => CertState::Expired,
        CertificateState::Suspended => CertState::Suspended,
        CertificateState::Unknown(value) => CertState::Unknown(value),
    }
}
