//! DigiCert CertCentral (Services API v2) as an issuance backend: the lifecycle's questions
//! mapped onto `clients::certcentral_orders` (`docs/certcentral-wire.md` has the wire).
//!
//! - order: `POST /order/certificate/{product}` with the CSR, names, organization, container
//!   and validity, then an order note naming cluster, namespace, Certificate and UID (the audit
//!   trail crash recovery matches); a renewal reissues the order of the certificate being
//!   renewed (`POST /order/certificate/{id}/reissue`), and orders anew when that order cannot be
//!   reissued;
//! - the lifecycle's "request id" of a pending order is the order id: polled with order info,
//!   `needs_approval` waits for approval, `pending`/`processing`/`reissue_pending`/... for
//!   validation, `rejected` and `canceled` end it;
//! - the lifecycle's "serial" is the certificate's serial: the order holding it is found with
//!   `filters[serial_number]`; the chain is the `pem_all` download (leaf, intermediates, root);
//! - revoke: `PUT /certificate/{id}/revoke`, reason `cessation_of_operation`.

mod recover;
mod spec;

use crate::backend::dns_order::leaf_serial;
use crate::backend::{Awaiting, CertState, ChainOutcome, IssuedCertificate, OrderInput, OrderOutcome};
use crate::clients::certcentral_order_types::{
    ChainFormat, OrderOutcome as CcOutcome, OrderSummary, PlacedOrder, Revocation, RevokeOutcome,
};
use crate::clients::certcentral_orders::{CertCentralOrdersClient, OrderQuery};
use crate::clients::error::{ErrorClass, ServiceError};
use crate::pki::{CertDer, certs_from_delivery};
pub use spec::CertCentralSpec;

const SERVICE: &str = "CertCentral";

/// One CertCentral Issuer, ready to be asked: its client (counted against the Certificate's
/// namespace) and its spec.
pub struct CertCentralBackend {
    client: CertCentralOrdersClient,
    spec: CertCentralSpec,
}

impl CertCentralBackend {
    pub fn new(client: CertCentralOrdersClient, spec: CertCentralSpec) -> Self {
        Self { client, spec }
    }

    pub fn spec(&self) -> &CertCentralSpec {
        &self.spec
    }

    /// A new order, or the reissue of the order holding the certificate being renewed. Not
    /// retried unless CertCentral certainly did not act on it (the client's rule).
    pub async fn order(&self, input: &OrderInput<'_>) -> Result<OrderOutcome, ServiceError> {
        if let Some(renewal) = &input.renew {
            match self.reissue(input, &renewal.serial).await {
                Ok(Some(placed)) => return Ok(self.placed(input, placed).await),
                Ok(None) => {}
                Err(e)
                    if matches!(
                        e.class(),
                        ErrorClass::InvalidInput | ErrorClass::NotFound | ErrorClass::Conflict
                    ) =>
                {
                    tracing::info!(certificate = %input.certificate, error = %e, "reissue refused; placing a new order instead");
                }
                Err(e) => return Err(e),
            }
        }
        let order = self.spec.new_order(input.spec, input.owner, input.csr.clone())?;
        let placed = self
            .client
            .order(&self.spec.config.product_name_id, &order)
            .await?;
        Ok(self.placed(input, placed).await)
    }

    /// Reissues the issued order holding `serial`; None when there is none to reissue.
    async fn reissue(
        &self,
        input: &OrderInput<'_>,
        serial: &str,
    ) -> Result<Option<PlacedOrder>, ServiceError> {
        let Some(order) = self.order_of_serial(serial).await? else {
            return Ok(None);
        };
        if CcOutcome::of(&order.status) != CcOutcome::Issued {
            tracing::info!(certificate = %input.certificate, order = order.id, status = %order.status, "the renewed certificate's order cannot be reissued; placing a new order");
            return Ok(None);
        }
        let reissue = self.spec.reissue(input.spec, input.owner, input.csr.clone())?;
        Ok(Some(self.client.reissue(order.id, &reissue).await?))
    }

    /// An order (or reissue) was placed: note the audit trail on it, then say what it came to.
    /// Nothing after the placement fails the call: a lost note or download must not make the
    /// lifecycle believe no order went out (the order is then polled like a pending one).
    async fn placed(&self, input: &OrderInput<'_>, placed: PlacedOrder) -> OrderOutcome {
        let note = self.spec.marker(input.owner).note_text();
        if let Err(e) = self.client.add_note(placed.order_id, &note).await {
            tracing::warn!(certificate = %input.certificate, order = placed.order_id, error = %e, "could not attach the audit note to the order; recovery will match its CSR");
        }
        let request_id = placed.order_id.to_string();
        if placed.issued()
            && let Some(certificate_id) = placed.certificate_id
        {
            match self.download(Some(certificate_id), placed.order_id).await {
                Ok((serial, certificate)) => return OrderOutcome::Issued { serial, certificate },
                Err(e) => {
                    tracing::warn!(certificate = %input.certificate, order = placed.order_id, error = %e, "order issued but its chain could not be downloaded; asking again");
                    return OrderOutcome::Pending {
                        request_id,
                        awaiting: Awaiting::Validation,
                        why: Some("issued".into()),
                    };
                }
            }
        }
        let awaiting = if placed.requests.iter().any(|r| r.status == "pending") {
            Awaiting::Approval
        } else {
            Awaiting::Validation
        };
        OrderOutcome::Pending {
            request_id,
            awaiting,
            why: None,
        }
    }

    /// Order info of a pending order (`request_id` is the order id): asking again is safe.
    pub async fn poll_order(&self, request_id: &str) -> Result<OrderOutcome, ServiceError> {
        let order_id: u64 = request_id
            .parse()
            .map_err(|_| ServiceError::Config(format!("{request_id:?} is not a CertCentral order id")))?;
        let info = self.client.order_info(order_id).await?;
        let status = info.status.clone();
        Ok(match info.outcome() {
            CcOutcome::Issued => {
                let (serial, certificate) = self.download(info.certificate.id, order_id).await?;
                OrderOutcome::Issued { serial, certificate }
            }
            CcOutcome::AwaitingApproval => OrderOutcome::Pending {
                request_id: request_id.into(),
                awaiting: Awaiting::Approval,
                why: Some(status),
            },
            CcOutcome::AwaitingValidation => OrderOutcome::Pending {
                request_id: request_id.into(),
                awaiting: Awaiting::Validation,
                why: Some(status),
            },
            CcOutcome::Rejected => OrderOutcome::Rejected,
            CcOutcome::Canceled | CcOutcome::Revoked | CcOutcome::Expired => {
                OrderOutcome::Canceled { status }
            }
            CcOutcome::Unknown => OrderOutcome::UnknownStatus(status),
        })
    }

    /// The state of the order holding `serial`, and its certificate chain when it is issued.
    pub async fn certificate(&self, serial: &str) -> Result<IssuedCertificate, ServiceError> {
        let order = self.require_order_of_serial(serial).await?;
        let state = match CcOutcome::of(&order.status) {
            CcOutcome::Issued => CertState::Issued,
            CcOutcome::Revoked => CertState::Revoked,
            CcOutcome::Expired => CertState::Expired,
            _ => CertState::Unknown(order.status.clone()),
        };
        let certificate = if state == CertState::Issued {
            Some(self.download(order.certificate.id, order.id).await?.1)
        } else {
            None
        };
        Ok(IssuedCertificate { state, certificate })
    }

    /// The chain: what was delivered (the `pem_all` bundle), else downloaded again.
    pub async fn complete_chain(
        &self,
        serial: &str,
        delivered: Option<&str>,
        _leaf_spki: &[u8],
    ) -> Result<ChainOutcome, ServiceError> {
        if let Some(Ok(certs)) = delivered.map(certs_from_delivery) {
            return Ok(ChainOutcome::Certs(certs));
        }
        let certs = self.fetch_chain(serial).await?;
        if certs.is_empty() {
            return Ok(ChainOutcome::Unusable {
                reason: "InvalidChain",
                message: format!("CertCentral returned no usable chain for certificate {serial}"),
            });
        }
        Ok(ChainOutcome::Certs(certs))
    }

    /// The `pem_all` bundle of the certificate with `serial`.
    pub async fn fetch_chain(&self, serial: &str) -> Result<Vec<CertDer>, ServiceError> {
        let order = self.require_order_of_serial(serial).await?;
        let (_, bundle) = self.download(order.certificate.id, order.id).await?;
        Ok(certs_from_delivery(&bundle).unwrap_or_default())
    }

    /// Nothing to learn: every download carries the root.
    pub fn chain_delivered(&self, _chain: &[CertDer]) {}

    /// The `pem_all` bundle joined, and the serial of its first (leaf) certificate.
    async fn download(
        &self,
        certificate_id: Option<u64>,
        order_id: u64,
    ) -> Result<(String, String), ServiceError> {
        let blocks = match certificate_id {
            Some(id) => self.client.download_chain(id, ChainFormat::PemAll).await?,
            None => {
                self.client
                    .download_chain_by_order(order_id, ChainFormat::PemAll)
                    .await?
            }
        };
        let bundle = blocks.concat();
        let serial = leaf_serial(SERVICE, &bundle)?;
        Ok((serial, bundle))
    }

    /// The order whose current certificate has `serial` (`filters[serial_number]`).
    async fn order_of_serial(&self, serial: &str) -> Result<Option<OrderSummary>, ServiceError> {
        let query = OrderQuery {
            serial_number: Some(serial.to_string()),
            newest_first: true,
            limit: 1,
            ..Default::default()
        };
        let (page, _) = self.client.list_orders(&query).await?;
        Ok(page.orders.into_iter().next())
    }

    async fn require_order_of_serial(&self, serial: &str) -> Result<OrderSummary, ServiceError> {
        self.order_of_serial(serial)
            .await?
            .ok_or_else(|| ServiceError::Service {
                service: SERVICE,
                endpoint: "list_orders",
                status: 404,
                code: Some("not_found|order".into()),
                message: Some(format!("no order holds certificate {serial}")),
                retry_after: None,
            })
    }

    /// Revokes with reason `cessation_of_operation`; without `skipApproval` the revocation
    /// waits for an administrator in CertCentral.
    pub async fn revoke(&self, serial: &str, _thumbprint_sha256: Option<&str>) -> Result<(), ServiceError> {
        let order = self.require_order_of_serial(serial).await?;
        let Some(certificate_id) = order.certificate.id else {
            return Err(ServiceError::UnexpectedBody {
                service: SERVICE,
                endpoint: "list_orders",
                reason: format!("order {} names no certificate id", order.id),
            });
        };
        let revocation = Revocation {
            comments: Some("tlm-operator: the Certificate was deleted (revokeOnDelete)".into()),
            skip_approval: self.spec.skip_approval(),
            revocation_reason: Some("cessation_of_operation".into()),
        };
        match self.client.revoke(certificate_id, &revocation).await? {
            RevokeOutcome::Revoked => {}
            RevokeOutcome::Requested { request_id, status } => {
                tracing::info!(%serial, request_id, %status, "revocation requested; it waits for an administrator in CertCentral");
            }
        }
        Ok(())
    }
}
