//! The DigiCert Trust Lifecycle Manager client (`/mpki/api`). Shapes follow the published
//! `/mpki/api/v1` OpenAPI document and DigiCert's own clients; `docs/tlm-wire.md` records each
//! field and where it comes from.

mod certificates;
mod profiles;
mod search;

use std::fmt;
use std::sync::Arc;

use reqwest::Method;
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use search::{MAX_SEARCH_RESULTS, SearchResults};

use super::RequestObserver;
use super::error::ServiceError;
use super::http::HttpSettings;
use super::retry::RetryPolicy;
use super::service::{Answer, Call, ServiceClient, ServiceClientBuilder, typed_client_basics};
use super::throttle::{Throttle, ThrottleSettings};

const SERVICE: &str = "TLM";

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

typed_client_basics!(TlmClient, TlmClientConfig);

impl TlmClient {
    pub fn with_observer(
        config: TlmClientConfig,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, ServiceError> {
        let service = ServiceClientBuilder::new(SERVICE, config.base_url, &config.http, config.retry)
            .auth("x-api-key", &config.api_key)
            .build(observer, || Throttle::new(config.throttle))?;
        Ok(Self { service })
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
        let call = call(endpoint, method, path, query, body, idempotent)?;
        self.service.send_json(call).await
    }

    async fn send<Q, B>(
        &self,
        endpoint: &'static str,
        method: Method,
        path: String,
        query: Option<&Q>,
        body: Option<&B>,
        idempotent: bool,
    ) -> Result<Answer, ServiceError>
    where
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let call = call(endpoint, method, path, query, body, idempotent)?;
        self.service.send(call).await
    }
}

/// A call with its JSON body encoded once, so every retry sends the same bytes.
fn call<'q, Q, B>(
    endpoint: &'static str,
    method: Method,
    path: String,
    query: Option<&'q Q>,
    body: Option<&B>,
    idempotent: bool,
) -> Result<Call<'q, Q>, ServiceError>
where
    Q: Serialize + ?Sized,
    B: Serialize + ?Sized,
{
    let body = body
        .map(serde_json::to_vec)
        .transpose()
        .map_err(|e| ServiceError::Config(format!("request body cannot be encoded: {e}")))?;
    Ok(Call {
        endpoint,
        method,
        path,
        query,
        body,
        idempotent,
    })
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
