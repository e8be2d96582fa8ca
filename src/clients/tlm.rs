//! The DigiCert Trust Lifecycle Manager client (`/mpki/api`), as
//! `../shared/reference/tlm-request-tls-certificate.txt` and DESIGN.md §3 describe it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::Retryable;
use reqwest::Method;
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::http::{HttpSettings, build_client, read_body_limited, retry_after_of};
use super::retry::RetryPolicy;
use super::throttle::{Throttle, ThrottleSettings};
use super::tlm_error::{ErrorClass, TlmError, parse_error_body};
use super::tlm_types::*;
use super::{NoObserver, RequestObserver};

/// Page size used when listing profiles.
const PROFILE_PAGE: usize = 50;
/// Safety stop for a service that never returns a short page.
const MAX_PROFILE_PAGES: usize = 200;
/// How long every request waits after a 429 that named no `Retry-After`.
const DEFAULT_THROTTLE_HOLD: Duration = Duration::from_secs(1);

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
#[derive(Clone)]
pub struct TlmClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    api_key: HeaderValue,
    throttle: Throttle,
    retry: RetryPolicy,
    observer: Arc<dyn RequestObserver>,
}

impl fmt::Debug for TlmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlmClient")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

impl TlmClient {
    pub fn new(config: TlmClientConfig) -> Result<Self, TlmError> {
        Self::with_observer(config, Arc::new(NoObserver))
    }

    pub fn with_observer(
        config: TlmClientConfig,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, TlmError> {
        let base = config.base_url.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base).map_err(|e| TlmError::Config(format!("url {base:?}: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(TlmError::Config(format!("url {base:?} is not http(s)")));
        }
        let http = build_client(&config.http).map_err(|e| TlmError::Config(e.to_string()))?;
        let mut api_key = HeaderValue::from_str(config.api_key.expose_secret()).map_err(|_| {
            TlmError::Config("the API key contains characters not allowed in a header".into())
        })?;
        api_key.set_sensitive(true);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                api_key,
                throttle: Throttle::new(config.throttle),
                retry: config.retry,
                observer,
            }),
        })
    }

    /// Time left before the service's last `Retry-After` expires, if any.
    pub fn held_for(&self) -> Option<Duration> {
        self.inner.throttle.held_for()
    }

    /// `GET /mpki/api/v1/hello`: liveness without side effects.
    pub async fn hello(&self) -> Result<(), TlmError> {
        self.send_retrying(
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
    pub async fn list_profiles(&self) -> Result<Vec<Profile>, TlmError> {
        let mut all = Vec::new();
        for _ in 0..MAX_PROFILE_PAGES {
            let query = [("offset", all.len()), ("limit", PROFILE_PAGE)];
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
            if len < PROFILE_PAGE {
                return Ok(all);
            }
        }
        Err(TlmError::UnexpectedBody {
            endpoint: "profiles",
            reason: "the profile list never ends".into(),
        })
    }

    /// One profile by ID, or None when the account has no such profile.
    pub async fn find_profile(&self, id: &str) -> Result<Option<Profile>, TlmError> {
        Ok(self.list_profiles().await?.into_iter().find(|p| p.id == id))
    }

    /// `POST /mpki/api/v1/certificate`. Not retried unless the service certainly did not act
    /// on it (429, connection refused): a blind retry could order a second certificate.
    pub async fn submit(&self, request: &SubmitRequest) -> Result<IssueResponse, TlmError> {
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
    pub async fn status(&self, serial: &str) -> Result<CertificateRecord, TlmError> {
        let path = format!("/mpki/api/v1/certificate/{}", path_segment("status", serial)?);
        self.json("status", Method::GET, path, None::<&()>, None::<&()>, true)
            .await
    }

    /// `GET /mpki/api/v1/certificate/{serial}/additional-formats`.
    pub async fn additional_formats(&self, serial: &str) -> Result<AdditionalFormats, TlmError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/additional-formats",
            path_segment("formats", serial)?
        );
        self.json("formats", Method::GET, path, None::<&()>, None::<&()>, true)
            .await
    }

    /// `POST /mpki/api/v1/certificate-pickup/{request_id}`: fetching is safe to repeat.
    pub async fn pickup(&self, request_id: &str) -> Result<IssueResponse, TlmError> {
        let path = format!(
            "/mpki/api/v1/certificate-pickup/{}",
            path_segment("pickup", request_id)?
        );
        self.json("pickup", Method::POST, path, None::<&()>, None::<&()>, true)
            .await
    }

    /// `GET /mpki/api/v1/certificate-search`.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, TlmError> {
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
    pub async fn renew(&self, serial: &str, request: &RenewRequest) -> Result<IssueResponse, TlmError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/renew",
            path_segment("renew", serial)?
        );
        self.json("renew", Method::POST, path, None::<&()>, Some(request), false)
            .await
    }

    /// `PUT /mpki/api/v1/certificate/{serial}/revoke`.
    pub async fn revoke(&self, serial: &str, reason: RevocationReason) -> Result<(), TlmError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/revoke",
            path_segment("revoke", serial)?
        );
        let body = RevokeRequest {
            revocation_reason: reason,
        };
        self.send_retrying("revoke", Method::PUT, path, None::<&()>, Some(&body), true)
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
    ) -> Result<T, TlmError>
    where
        T: DeserializeOwned,
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let bytes = self
            .send_retrying(endpoint, method, path, query, body, idempotent)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| TlmError::UnexpectedBody {
            endpoint,
            reason: e.to_string(),
        })
    }

    async fn send_retrying<Q, B>(
        &self,
        endpoint: &'static str,
        method: Method,
        path: String,
        query: Option<&Q>,
        body: Option<&B>,
        idempotent: bool,
    ) -> Result<Vec<u8>, TlmError>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| TlmError::Config(format!("request body cannot be encoded: {e}")))?;
        let policy = self.inner.retry;
        let attempt = || self.send_once(endpoint, method.clone(), &path, query, body.as_deref());
        attempt
            .retry(policy.backoff())
            .sleep(tokio::time::sleep)
            .when(|e: &TlmError| should_retry(e, idempotent, &policy))
            .adjust(|e, backoff| policy.delay_with(backoff, e.retry_after()))
            .notify(|e, delay| tracing::debug!(endpoint, error = %e, ?delay, "retrying TLM request"))
            .await
    }

    async fn send_once<Q: Serialize + ?Sized>(
        &self,
        endpoint: &'static str,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&[u8]>,
    ) -> Result<Vec<u8>, TlmError> {
        let inner = &self.inner;
        let mut request = inner
            .http
            .request(method, format!("{}{path}", inner.base))
            .header("x-api-key", inner.api_key.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(query) = query {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let _permit = inner.throttle.admit().await;
        let started = Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                inner.observer.observe("tlm", endpoint, None, started.elapsed());
                return Err(transport_error(endpoint, &e));
            }
        };
        let status = response.status().as_u16();
        let retry_after = retry_after_of(response.headers());
        let bytes = read_body_limited(response).await;
        inner
            .observer
            .observe("tlm", endpoint, Some(status), started.elapsed());
        if status == 429 || retry_after.is_some() && status >= 500 {
            inner
                .throttle
                .hold_for(retry_after.unwrap_or(DEFAULT_THROTTLE_HOLD));
        }
        let bytes = bytes.map_err(|e| transport_error(endpoint, &e))?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        let (code, message) = parse_error_body(&bytes);
        Err(TlmError::Service {
            endpoint,
            status,
            code,
            message,
            retry_after,
        })
    }
}

fn should_retry(error: &TlmError, idempotent: bool, policy: &RetryPolicy) -> bool {
    if error
        .retry_after()
        .is_some_and(|wait| wait > policy.max_inline_wait)
    {
        return false;
    }
    if !idempotent {
        return error.request_not_processed();
    }
    matches!(error.class(), ErrorClass::Transient | ErrorClass::UnexpectedBody)
}

fn transport_error(endpoint: &'static str, error: &reqwest::Error) -> TlmError {
    // reqwest's Display names the URL, which carries no secret (the key is a header).
    let reason = error_chain(error);
    if error.is_timeout() {
        TlmError::Timeout { endpoint }
    } else if error.is_connect() {
        TlmError::Connect { endpoint, reason }
    } else {
        TlmError::Interrupted { endpoint, reason }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Serials and request IDs go into the path: refuse anything that is not a plain token.
fn path_segment(endpoint: &'static str, value: &str) -> Result<String, TlmError> {
    if !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(value.to_string())
    } else {
        Err(TlmError::Config(format!(
            "{endpoint}: {value:?} is not a valid serial number or request ID"
        )))
    }
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

    #[test]
    fn only_unprocessed_failures_retry_a_submit() {
        let policy = RetryPolicy::default();
        let unavailable = TlmError::Service {
            endpoint: "submit",
            status: 503,
            code: None,
            message: None,
            retry_after: None,
        };
        let throttled = TlmError::Service {
            endpoint: "submit",
            status: 429,
            code: None,
            message: None,
            retry_after: Some(Duration::from_secs(3)),
        };
        let long_throttle = TlmError::Service {
            endpoint: "submit",
            status: 429,
            code: None,
            message: None,
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert!(!should_retry(&unavailable, false, &policy));
        assert!(should_retry(&unavailable, true, &policy));
        assert!(should_retry(&throttled, false, &policy));
        assert!(
            !should_retry(&long_throttle, true, &policy),
            "a long Retry-After goes back to the caller"
        );
        let interrupted = TlmError::Interrupted {
            endpoint: "submit",
            reason: "reset".into(),
        };
        assert!(!should_retry(&interrupted, false, &policy));
    }

    #[test]
    fn path_segments_are_plain_tokens() {
        assert!(path_segment("status", "0F6F55555658A989").is_ok());
        assert!(path_segment("status", "../admin").is_err());
        assert!(path_segment("status", "").is_err());
    }
}
