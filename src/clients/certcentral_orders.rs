//! DigiCert CertCentral Services API v2 certificate orders: order, order info, list (paged,
//! bounded), notes, chain download, reissue and revoke, plus the crash-recovery lookup that
//! finds an order we already placed. `docs/certcentral-wire.md` records every field's source.

use std::fmt;
use std::sync::Arc;

use reqwest::Method;
use secrecy::SecretString;
use serde::Serialize;

use super::RequestObserver;
use super::certcentral::certcentral_quota;
use super::certcentral_order_types::*;
use super::error::ServiceError;
use super::http::HttpSettings;
use super::retry::RetryPolicy;
use super::service::{Answer, Call, ServiceClient, ServiceClientBuilder, typed_client_basics};
use super::throttle::Throttle;

const SERVICE: &str = "CertCentral";
/// A chain longer than this is refused, as for TLM.
pub const MAX_CHAIN_CERTIFICATES: usize = 10;

/// Filters, sort and paging of `GET /order/certificate`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderQuery {
    pub common_name: Option<String>,
    /// One of the list page's statuses: pending, issued, rejected, revoked, waiting_pickup,
    /// reissue_pending, canceled.
    pub status: Option<String>,
    /// The order whose current certificate has this serial (hex, as the certificate prints it).
    pub serial_number: Option<String>,
    /// Newest first (`sort=-date_created`).
    pub newest_first: bool,
    pub offset: u64,
    pub limit: u64,
}

#[derive(Clone)]
pub struct CertCentralOrdersConfig {
    /// e.g. `https://www.digicert.com` (the client adds `/services/v2`).
    pub base_url: String,
    pub api_key: SecretString,
    pub http: HttpSettings,
    pub retry: RetryPolicy,
    /// Share one budget with other clients of the same key (the CT monitor download); `None`:
    /// a budget of its own below the published limits.
    pub throttle: Option<Arc<Throttle>>,
}

impl fmt::Debug for CertCentralOrdersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertCentralOrdersConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A CertCentral orders client. Cheap to clone; clones share the budget and `Retry-After` gate.
#[derive(Clone, Debug)]
pub struct CertCentralOrdersClient {
    service: ServiceClient,
}

pub(super) fn unexpected(endpoint: &'static str, reason: impl Into<String>) -> ServiceError {
    ServiceError::UnexpectedBody {
        service: SERVICE,
        endpoint,
        reason: reason.into(),
    }
}

fn encode<B: Serialize>(body: &B) -> Result<Vec<u8>, ServiceError> {
    serde_json::to_vec(body).map_err(|e| ServiceError::Config(format!("request body cannot be encoded: {e}")))
}

typed_client_basics!(CertCentralOrdersClient, CertCentralOrdersConfig);

impl CertCentralOrdersClient {
    pub fn with_observer(
        config: CertCentralOrdersConfig,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, ServiceError> {
        let base = format!("{}/services/v2", config.base_url.trim_end_matches('/'));
        let service = ServiceClientBuilder::new(SERVICE, base, &config.http, config.retry)
            .auth("x-dc-devkey", &config.api_key)
            .shared_throttle(config.throttle)
            .build(observer, || Throttle::with_quota(certcentral_quota(), 4))?;
        Ok(Self { service })
    }

    async fn call<Q: Serialize + ?Sized>(
        &self,
        endpoint: &'static str,
        method: Method,
        path: String,
        query: Option<&Q>,
        body: Option<Vec<u8>>,
        idempotent: bool,
    ) -> Result<Answer, ServiceError> {
        let call = Call {
            endpoint,
            method,
            path,
            query,
            body,
            idempotent,
        };
        self.service.send(call).await
    }

    /// `POST /order/certificate/{product_name_id}`. Repeated only when the service certainly
    /// did not act (429, refused connection): a blind retry could buy a second certificate.
    pub async fn order(&self, product_name_id: &str, order: &NewOrder) -> Result<PlacedOrder, ServiceError> {
        let path = format!("/order/certificate/{}", segment("order", product_name_id)?);
        let body = encode(&OrderWire::from(order))?;
        let answer = self
            .call("order", Method::POST, path, None::<&()>, Some(body), false)
            .await?;
        answer.json(SERVICE, "order")
    }

    /// `GET /order/certificate/{order_id}`.
    pub async fn order_info(&self, order_id: u64) -> Result<OrderInfo, ServiceError> {
        let path = format!("/order/certificate/{order_id}");
        let call = Call {
            endpoint: "order_info",
            method: Method::GET,
            path,
            query: None::<&()>,
            body: None,
            idempotent: true,
        };
        self.service.send_json(call).await
    }

    /// One page of `GET /order/certificate`.
    pub async fn list_orders(&self, query: &OrderQuery) -> Result<(OrderPage, usize), ServiceError> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(common_name) = &query.common_name {
            params.push(("filters[common_name]", common_name.clone()));
        }
        if let Some(status) = &query.status {
            params.push(("filters[status]", status.clone()));
        }
        if let Some(serial) = &query.serial_number {
            params.push(("filters[serial_number]", serial.clone()));
        }
        if query.newest_first {
            params.push(("sort", "-date_created".into()));
        }
        params.push(("offset", query.offset.to_string()));
        params.push(("limit", query.limit.clamp(1, 1000).to_string()));
        let call = Call {
            endpoint: "list_orders",
            method: Method::GET,
            path: "/order/certificate".into(),
            query: Some(&params),
            body: None,
            idempotent: true,
        };
        self.service
            .send_parsed(call, |answer| {
                let page: OrderPage = answer.json(SERVICE, "list_orders")?;
                Ok((page, answer.body.len()))
            })
            .await
    }

    /// `POST /order/certificate/{order_id}/note`.
    pub async fn add_note(&self, order_id: u64, text: &str) -> Result<Note, ServiceError> {
        let path = format!("/order/certificate/{order_id}/note");
        let body = encode(&NoteWire { text })?;
        let answer = self
            .call("note", Method::POST, path, None::<&()>, Some(body), false)
            .await?;
        answer.json(SERVICE, "note")
    }

    /// `GET /order/certificate/{order_id}/note`.
    pub async fn notes(&self, order_id: u64) -> Result<Vec<Note>, ServiceError> {
        let path = format!("/order/certificate/{order_id}/note");
        let answer = self
            .call("note", Method::GET, path, None::<&()>, None, true)
            .await?;
        Ok(answer.json::<NotesWire>(SERVICE, "note")?.notes)
    }

    /// `GET /certificate/{certificate_id}/download/format/{format}`: the PEM blocks, as sent.
    pub async fn download_chain(
        &self,
        certificate_id: u64,
        format: ChainFormat,
    ) -> Result<Vec<String>, ServiceError> {
        let path = format!(
            "/certificate/{certificate_id}/download/format/{}",
            format.wire_name()
        );
        self.download(path).await
    }

    /// `GET /certificate/download/order/{order_id}/format/{format}`: the order's current one.
    pub async fn download_chain_by_order(
        &self,
        order_id: u64,
        format: ChainFormat,
    ) -> Result<Vec<String>, ServiceError> {
        let path = format!(
            "/certificate/download/order/{order_id}/format/{}",
            format.wire_name()
        );
        self.download(path).await
    }

    async fn download(&self, path: String) -> Result<Vec<String>, ServiceError> {
        let call = Call {
            endpoint: "download",
            method: Method::GET,
            path,
            query: None::<&()>,
            body: None,
            idempotent: true,
        };
        self.service
            .send_parsed(call, |answer| pem_blocks(&answer.body))
            .await
    }

    /// `POST /order/certificate/{order_id}/reissue`, not repeated blindly (like `order`).
    pub async fn reissue(&self, order_id: u64, reissue: &Reissue) -> Result<PlacedOrder, ServiceError> {
        let path = format!("/order/certificate/{order_id}/reissue");
        let body = encode(&ReissueWire::from(reissue))?;
        let answer = self
            .call("reissue", Method::POST, path, None::<&()>, Some(body), false)
            .await?;
        answer.json(SERVICE, "reissue")
    }

    /// `PUT /certificate/{certificate_id}/revoke`: 204 revoked, or 201 a pending request.
    pub async fn revoke(
        &self,
        certificate_id: u64,
        revocation: &Revocation,
    ) -> Result<RevokeOutcome, ServiceError> {
        let path = format!("/certificate/{certificate_id}/revoke");
        let body = encode(revocation)?;
        let answer = self
            .call("revoke", Method::PUT, path, None::<&()>, Some(body), true)
            .await?;
        if answer.status == 204 || answer.body.is_empty() {
            return Ok(RevokeOutcome::Revoked);
        }
        let request: RevokeRequestWire = answer.json(SERVICE, "revoke")?;
        Ok(RevokeOutcome::Requested {
            request_id: request.id,
            status: request.status,
        })
    }
}

/// Product ids go into a path: plain tokens only.
fn segment(endpoint: &'static str, value: &str) -> Result<String, ServiceError> {
    super::service::path_segment(endpoint, value)
}

/// The certificates of a PEM bundle, each re-armoured; refuses anything else in the body.
pub fn pem_blocks(body: &[u8]) -> Result<Vec<String>, ServiceError> {
    let blocks = pem::parse_many(body).map_err(|e| unexpected("download", format!("not PEM: {e}")))?;
    if blocks.is_empty() || blocks.len() > MAX_CHAIN_CERTIFICATES {
        return Err(unexpected(
            "download",
            format!(
                "{} certificates in the bundle (1 to {MAX_CHAIN_CERTIFICATES} expected)",
                blocks.len()
            ),
        ));
    }
    blocks
        .iter()
        .map(|block| match block.tag() {
            "CERTIFICATE" => Ok(pem::encode_config(
                block,
                pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
            )),
            other => Err(unexpected("download", format!("a {other} block in the bundle"))),
        })
        .collect()
}

#[cfg(test)]
#[path = "certcentral_orders_tests.rs"]
mod tests;
