//! The DigiCert Trust Lifecycle Manager client (`/mpki/api`). Shapes follow the published
//! `/mpki/api/v1` OpenAPI document and DigiCert's own clients; `docs/tlm-wire.md` records each
//! field and where it comes from.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ServiceError;
use super::fair_turns::Tenant;
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
/// The most bytes read for one profile list, over all its pages (each page is already capped at
/// 4 MiB; 200 of them would not fit the operator's memory limit).
const MAX_PROFILE_LIST_BYTES: usize = 16 * 1024 * 1024;
/// Search page size (the spec's default is 20; larger pages mean fewer round trips).
const SEARCH_PAGE: u32 = 100;
/// The most search results read for one question: recovery needs the few certificates of one
/// common name and profile, not the inventory.
pub const MAX_SEARCH_RESULTS: usize = 2_000;

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

    /// The same client (same budget), with its requests counted against `tenant` when the
    /// budget is shared out.
    pub fn for_tenant(&self, tenant: Tenant) -> Self {
        Self {
            service: self.service.for_tenant(tenant),
        }
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
        let mut bytes = 0usize;
        for _ in 0..MAX_PROFILE_PAGES {
            let query = [("offset", all.len()), ("limit", page_size)];
            let answer = self
                .send(
                    "profiles",
                    Method::GET,
                    "/mpki/api/v2/profile".into(),
                    Some(&query),
                    None::<&()>,
                    true,
                )
                .await?;
            bytes = bytes.saturating_add(answer.body.len());
            if bytes > MAX_PROFILE_LIST_BYTES {
                return Err(ServiceError::UnexpectedBody {
                    service: SERVICE,
                    endpoint: "profiles",
                    reason: format!("the profile list passed {MAX_PROFILE_LIST_BYTES} bytes"),
                });
            }
            let page: Vec<Profile> = answer.json(SERVICE, "profiles")?;
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

    /// One profile: `GET /mpki/api/v2/profile/{id}`, as DigiCert's clients read it. A tenant
    /// without that route (404/405) is asked for the list instead.
    pub async fn profile(&self, id: &str) -> Result<Profile, ServiceError> {
        let path = format!("/mpki/api/v2/profile/{}", path_segment("profile", id)?);
        match self
            .json::<Profile, (), ()>("profile", Method::GET, path, None, None, true)
            .await
        {
            Ok(profile) => Ok(profile),
            Err(e) if matches!(e.status(), Some(404 | 405)) => {
                tracing::debug!(error = %e, "profile by id unavailable; reading the profile list");
                self.list_profiles()
                    .await?
                    .into_iter()
                    .find(|p| p.id == id)
                    .ok_or(e)
            }
            Err(e) => Err(e),
        }
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

    /// `POST /mpki/api/v1/certificate-pickup/{request_id}` with the profile in the body:
    /// asking again is safe.
    pub async fn pickup(&self, request_id: &str, profile_id: &str) -> Result<IssueResponse, ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate-pickup/{}",
            path_segment("pickup", request_id)?
        );
        let body = PickupRequest {
            profile: IdRef {
                id: profile_id.to_string(),
            },
        };
        self.json("pickup", Method::POST, path, None::<&()>, Some(&body), true)
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

    /// Every match of a search, page by page (the spec documents no order, so the first page
    /// is not "the newest"). Stops at [`MAX_SEARCH_RESULTS`]; `truncated` says so.
    pub async fn search_all(&self, query: &SearchQuery) -> Result<SearchResults, ServiceError> {
        let mut results = SearchResults::default();
        loop {
            let offset = u32::try_from(results.items.len()).unwrap_or(u32::MAX);
            let page = self
                .search(&SearchQuery {
                    offset: Some(offset),
                    limit: Some(SEARCH_PAGE),
                    ..query.clone()
                })
                .await?;
            let (len, total) = (page.items.len(), page.total);
            results.items.extend(page.items);
            let seen = results.items.len() as u64;
            let done = len == 0 || total.is_none_or(|t| seen >= t);
            if done {
                return Ok(results);
            }
            if results.items.len() >= MAX_SEARCH_RESULTS {
                results.truncated = true;
                return Ok(results);
            }
        }
    }

    /// `POST /mpki/api/v1/certificate/{serial}/renew`. Retried like submit. When TLM answers
    /// that the serial is shared by several certificates, asks again naming ours by
    /// `thumbprint_sha256` (a refused request ordered nothing).
    pub async fn renew(
        &self,
        serial: &str,
        thumbprint_sha256: Option<&str>,
        request: &RenewRequest,
    ) -> Result<IssueResponse, ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/renew",
            path_segment("renew", serial)?
        );
        match self
            .json(
                "renew",
                Method::POST,
                path.clone(),
                None::<&()>,
                Some(request),
                false,
            )
            .await
        {
            Err(e) if e.is_serial_collision() && thumbprint_sha256.is_some() => {
                let query = [("thumbprint_sha256", thumbprint_sha256.unwrap_or_default())];
                self.json("renew", Method::POST, path, Some(&query), Some(request), false)
                    .await
            }
            other => other,
        }
    }

    /// `PUT /mpki/api/v1/certificate/{serial}/revoke`, with `thumbprint_sha256` on a serial
    /// collision as for renew.
    pub async fn revoke(
        &self,
        serial: &str,
        thumbprint_sha256: Option<&str>,
        reason: RevocationReason,
    ) -> Result<(), ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/revoke",
            path_segment("revoke", serial)?
        );
        let body = RevokeRequest {
            revocation_reason: reason,
        };
        match self
            .send(
                "revoke",
                Method::PUT,
                path.clone(),
                None::<&()>,
                Some(&body),
                true,
            )
            .await
        {
            Err(e) if e.is_serial_collision() && thumbprint_sha256.is_some() => {
                let query = [("thumbprint_sha256", thumbprint_sha256.unwrap_or_default())];
                self.send("revoke", Method::PUT, path, Some(&query), Some(&body), true)
                    .await
                    .map(|_| ())
            }
            other => other.map(|_| ()),
        }
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

/// Everything a search matched, up to [`MAX_SEARCH_RESULTS`].
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    pub items: Vec<CertificateRecord>,
    /// More matched than were read.
    pub truncated: bool,
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
