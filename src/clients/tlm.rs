//! The DigiCert Trust Lifecycle Manager client (`/mpki/api`), as
//! `../shared/reference/tlm-request-tls-certificate.txt` and DESIGN.md §3 describe it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ServiceError;
use super::http::HttpSettings;
use super::retry::RetryPolicy;
use super::service::{Call, ServiceClient, path_segment};
use super::throttle::{Throttle, ThrottleSettings};
use super::tlm_types::*;
use super::{NoObserver, RequestObserver};

const SERVICE: &str = "TLM";
/// Page size used when listing profiles.
const PROFILE_PAGE: usize = 50;
/// Safety stop for a service that never returns a short page.
const MAX_PROFILE_PAGES: usize = 200;

/// Everything needed to talk to one TLM tenant with one API key.
#[derive(Clone)]
pub struct TlmClientConfig {
    /// Tenant base URL, e.g. `https://one.digicert.com`.
    pub base_url: String,
    pub api_key: SecretString,
    pub http: HttpSettings,
    pub throttle: ThrottleSettings,
    pub retry: RetryPolicy,
}

impl fmt::Debug for TlmClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlmClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("throttle", &self.throttle)
            .field("retry", &self.retry)
            .finish()
    }
}

/// A TLM client. Cheap to clone; clones share the rate limit, concurrency cap and
/// `Retry-After` gate.
#[derive(Clone, Debug)]
pub struct TlmClient {
    service: ServiceClient,
}

impl TlmClient {
    pub fn new(config: TlmClientConfig) -> Result<Self, ServiceError> {
        Self::with_observer(config, Arc::new(NoObserver))
    }

    pub fn with_observer(
        config: TlmClientConfig,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, ServiceError> {
        let service = ServiceClient::new(
            SERVICE,
            &config.base_url,
            Some(("x-api-key", config.api_key.expose_secret())),
            &config.http,
            Arc::new(Throttle::new(config.throttle)),
            config.retry,
            observer,
        )?;
        Ok(Self { service })
    }

    /// Time left before the service's last `Retry-After` expires, if any.
    pub fn held_for(&self) -> Option<Duration> {
        self.service.throttle().held_for()
    }

    /// `GET /mpki/api/v1/hello`: liveness without side effects.
    pub async fn hello(&self) -> Result<(), ServiceError> {
        self.send(
            "hello",
            Method::GET,
            "/mpki/api/v1/hello".into(),
            None::<&()>,
            None::<&()>,
            true,
        )
        .await
        .map(|_| ())
    }

    /// Every profile of the account (`GET /mpki/api/v2/profile`, paged until exhausted).
    pub async fn list_profiles(&self) -> Result<Vec<Profile>, ServiceError> {
        self.list_profiles_paged(PROFILE_PAGE).await
    }

    /// Like [`Self::list_profiles`] with a chosen page size.
    pub async fn list_profiles_paged(&self, page_size: usize) -> Result<Vec<Profile>, ServiceError> {
        let page_size = page_size.max(1);
        let mut all = Vec::new();
        for _ in 0..MAX_PROFILE_PAGES {
            let query = [("offset", all.len()), ("limit", page_size)];
            let page: Vec<Profile> = self
                .json(
                    "profiles",
                    Method::GET,
                    "/mpki/api/v2/profile".into(),
                    Some(&query),
                    None::<&()>,
                    true,
                )
                .await?;
            let len = page.len();
            all.extend(page);
            if len < page_size {
                return Ok(all);
            }
        }
        Err(ServiceError::UnexpectedBody {
            service: SERVICE,
            endpoint: "profiles",
            reason: "the profile list never ends".into(),
        })
    }

    /// `POST /mpki/api/v1/certificate`. Not retried unless the service certainly did not act
    /// on it (429, connection refused): a blind retry could order a second certificate.
    pub async fn submit(&self, request: &SubmitRequest) -> Result<IssueResponse, ServiceError> {
        self.json(
            "submit",
            Method::POST,
            "/mpki/api/v1/certificate".into(),
            None::<&()>,
            Some(request),
            false,
        )
        .await
    }

    /// `GET /mpki/api/v1/certificate/{serial}`.
    pub async fn status(&self, serial: &str) -> Result<CertificateRecord, ServiceError> {
        let path = format!("/mpki/api/v1/certificate/{}", path_segment("status", serial)?);
        self.json("status", Method::GET, path, None::<&()>, None::<&()>, true)
            .await
    }

    /// `GET /mpki/api/v1/certificate/{serial}/additional-formats`.
    pub async fn additional_formats(&self, serial: &str) -> Result<AdditionalFormats, ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/additional-formats",
            path_segment("formats", serial)?
        );
        self.json("formats", Method::GET, path, None::<&()>, None::<&()>, true)
            .await
    }

    /// `POST /mpki/api/v1/certificate-pickup/{request_id}`: fetching is safe to repeat.
    pub async fn pickup(&self, request_id: &str) -> Result<IssueResponse, ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate-pickup/{}",
            path_segment("pickup", request_id)?
        );
        self.json("pickup", Method::POST, path, None::<&()>, None::<&()>, true)
            .await
    }

    /// `GET /mpki/api/v1/certificate-search`.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, ServiceError> {
        self.json(
            "search",
            Method::GET,
            "/mpki/api/v1/certificate-search".into(),
            Some(query),
            None::<&()>,
            true,
        )
        .await
    }

    /// `POST /mpki/api/v1/certificate/{serial}/renew`. Retried like submit.
    pub async fn renew(&self, serial: &str, request: &RenewRequest) -> Result<IssueResponse, ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/renew",
            path_segment("renew", serial)?
        );
        self.json("renew", Method::POST, path, None::<&()>, Some(request), false)
            .await
    }

    /// `PUT /mpki/api/v1/certificate/{serial}/revoke`.
    pub async fn revoke(&self, serial: &str, reason: RevocationReason) -> Result<(), ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/revoke",
            path_segment("revoke", serial)?
        );
        let body = RevokeRequest {
            revocation_reason: reason,
        };
        self.send("revoke", Method::PUT, path, None::<&()>, Some(&body), true)
            .await
            .map(|_| ())
    }

    async fn json<T, Q, B>(
        &self,
        endpoint: &'static str,
        method: Method,
        path: String,
        query: Option<&Q>,
        body: Option<&B>,
        idempotent: bool,
    ) -> Result<T, ServiceError>
    where
        T: DeserializeOwned,
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let body = encode(body)?;
        self.service
            .send_json(Call {
                endpoint,
                method,
                path,
                query,
                body,
                idempotent,
            })
            .await
    }

    async fn send<Q, B>(
        &self,
        endpoint: &'static str,
        method: Method,
        path: String,
        query: Option<&Q>,
        body: Option<&B>,
        idempotent: bool,
    ) -> Result<super::service::Answer, ServiceError>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let body = encode(body)?;
        self.service
            .send(Call {
                endpoint,
                method,
                path,
                query,
                body,
                idempotent,
            })
            .await
    }
}

fn encode<B: Serialize + ?Sized>(body: Option<&B>) -> Result<Option<Vec<u8>>, ServiceError> {
    body.map(serde_json::to_vec)
        .transpose()
        .map_err(|e| ServiceError::Config(format!("request body cannot be encoded: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_api_key() {
        let config = TlmClientConfig {
            base_url: "https://tlm.example.com".into(),
            api_key: SecretString::from("super-secret-key-123"),
            http: HttpSettings::default(),
            throttle: ThrottleSettings::default(),
            retry: RetryPolicy::default(),
        };
        assert!(!format!("{config:?}").contains("super-secret"));
        let client = TlmClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("super-secret"));
    }
}
