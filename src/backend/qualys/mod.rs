//! Qualys CertView as an issuance backend: DigiCert orders placed through Qualys' enrollment API
//! (`clients::qualys`; `docs/qualys-wire.md` has the wire and what is unverified).
//!
//! - order: `POST .../enrollment/digicert/orders` with our CSR; the answer's UUID is the
//!   lifecycle's request id, recorded in status at once (Qualys lists no enrollment requests,
//!   so the UUID is the only way back to one; the lifecycle writes an in-flight record before
//!   submitting, so a lost answer makes it wait instead of ordering twice);
//! - poll: `GET .../orders/{uuid}`: `SUBMITTED` waits for a Qualys approver, `APPROVED` for
//!   DigiCert, `ISSUED` is downloaded (`GET .../orders/{uuid}/certificate`), `REJECTED` and a
//!   failed caStatus end it, `CANCELLED` too;
//! - a renewal is a new request (the `renewal` block needs the DigiCert order id, which the
//!   view does not show);
//! - Qualys cannot be asked about a certificate by serial and offers no revocation: there are
//!   no periodic status checks and no revoke on delete (the Issuer's CEL rule refuses
//!   `revokeOnDelete`).

mod spec;

use crate::backend::dns_order::leaf_serial;
use crate::backend::{
    Awaiting, ChainOutcome, FoundOrder, IssuedCertificate, KeySearch, OrderInput, OrderOutcome,
};
use crate::clients::error::ServiceError;
use crate::clients::qualys::QualysClient;
use crate::clients::qualys_types::{EnrollmentView, Outcome, Pending};
use crate::pki::{CertDer, certs_from_delivery};
pub use spec::QualysSpec;

const SERVICE: &str = "Qualys";

/// One Qualys CertView Issuer, ready to be asked: its client (counted against the Certificate's
/// namespace) and its spec.
pub struct QualysBackend {
    client: QualysClient,
    spec: QualysSpec,
}

impl QualysBackend {
    pub fn new(client: QualysClient, spec: QualysSpec) -> Self {
        Self { client, spec }
    }

    pub fn spec(&self) -> &QualysSpec {
        &self.spec
    }

    /// Creates the enrollment request. Sent once (the client never repeats a create).
    pub async fn order(&self, input: &OrderInput<'_>) -> Result<OrderOutcome, ServiceError> {
        let order = self.spec.order(input.spec, input.csr.clone())?;
        let view = self.client.enroll(&self.spec.profile(input.spec), &order).await?;
        Ok(match self.outcome(&view).await {
            Ok(outcome) => outcome,
            // Placed, but the download failed: the request is polled like a pending one.
            Err(e) => {
                tracing::warn!(certificate = %input.certificate, uuid = %view.uuid, error = %e, "request issued but its certificate could not be downloaded; asking again");
                OrderOutcome::Pending {
                    request_id: view.uuid.clone(),
                    awaiting: Awaiting::Validation,
                    why: view.status.clone(),
                }
            }
        })
    }

    /// Views a pending request (`request_id` is its UUID): asking again is safe.
    pub async fn poll_order(&self, request_id: &str) -> Result<OrderOutcome, ServiceError> {
        let view = self.client.view(request_id).await?;
        match view.outcome() {
            Outcome::Pending(Pending::Unrecognised(status)) => Ok(OrderOutcome::UnknownStatus(status)),
            _ => self.outcome(&view).await,
        }
    }

    /// What a view says, the certificate downloaded when it is issued. A status this operator
    /// does not know is still a placed request: waited on, never ordered again.
    async fn outcome(&self, view: &EnrollmentView) -> Result<OrderOutcome, ServiceError> {
        let request_id = view.uuid.clone();
        Ok(match view.outcome() {
            Outcome::Issued => {
                let (serial, certificate) = self.download(&view.uuid).await?;
                OrderOutcome::Issued { serial, certificate }
            }
            Outcome::Pending(Pending::Approval) => OrderOutcome::Pending {
                request_id,
                awaiting: Awaiting::Approval,
                why: view.status.clone(),
            },
            Outcome::Pending(Pending::Ca(ca_status)) => OrderOutcome::Pending {
                request_id,
                awaiting: Awaiting::Validation,
                why: Some(match ca_status.as_str() {
                    "" => "APPROVED".into(),
                    ca => format!("APPROVED, DigiCert {ca}"),
                }),
            },
            Outcome::Pending(Pending::Unrecognised(status)) => OrderOutcome::Pending {
                request_id,
                awaiting: Awaiting::Validation,
                why: Some(status),
            },
            Outcome::Cancelled => OrderOutcome::Canceled {
                status: "CANCELLED".into(),
            },
            Outcome::Failed(_) if view.status.as_deref() == Some("REJECTED") => OrderOutcome::Rejected,
            Outcome::Failed(why) => OrderOutcome::Canceled {
                status: format!("APPROVED, but {why}"),
            },
        })
    }

    /// The issued certificate and chain (PEM, leaf first) and the leaf's serial.
    async fn download(&self, uuid: &str) -> Result<(String, String), ServiceError> {
        let bundle = self.client.download_chain(uuid).await?.concat();
        let serial = leaf_serial(SERVICE, &bundle)?;
        Ok((serial, bundle))
    }

    /// Qualys cannot be asked about a certificate by serial.
    pub async fn certificate(&self, serial: &str) -> Result<IssuedCertificate, ServiceError> {
        Err(unsupported(format!(
            "Qualys CertView cannot look up certificate {serial} by serial"
        )))
    }

    /// The chain is what the download delivered (leaf, intermediates, root).
    pub async fn complete_chain(
        &self,
        serial: &str,
        delivered: Option<&str>,
        _leaf_spki: &[u8],
    ) -> Result<ChainOutcome, ServiceError> {
        match delivered.map(certs_from_delivery) {
            Some(Ok(certs)) if !certs.is_empty() => Ok(ChainOutcome::Certs(certs)),
            _ => Ok(ChainOutcome::Unusable {
                reason: "InvalidChain",
                message: format!("Qualys delivered no usable chain for certificate {serial}"),
            }),
        }
    }

    /// A chain cannot be fetched again by serial: a Secret that lost its `ca.crt` is repaired
    /// by the next issuance.
    pub async fn fetch_chain(&self, serial: &str) -> Result<Vec<CertDer>, ServiceError> {
        Err(unsupported(format!(
            "Qualys CertView cannot fetch the chain of certificate {serial} by serial"
        )))
    }

    /// Nothing to learn: every download carries the root.
    pub fn chain_delivered(&self, _chain: &[CertDer]) {}

    /// Nothing to search: Qualys lists no enrollment requests. The lifecycle's in-flight record
    /// covers a lost answer (it waits rather than ordering again).
    pub async fn find_order(&self, _search: &KeySearch<'_>) -> Result<Option<FoundOrder>, ServiceError> {
        Ok(None)
    }

    /// Qualys CertView offers no revocation.
    pub async fn revoke(&self, serial: &str, _thumbprint_sha256: Option<&str>) -> Result<(), ServiceError> {
        Err(unsupported(format!(
            "Qualys CertView offers no revocation; revoke certificate {serial} in DigiCert CertCentral"
        )))
    }
}

fn unsupported(message: String) -> ServiceError {
    ServiceError::Config(message)
}
