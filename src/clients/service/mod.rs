//! What every service client shares: one HTTP client, an auth header that never shows in
//! `Debug`, a throttle (rate limit, concurrency cap, `Retry-After` gate), retries with backoff
//! and jitter, bounded body reads, typed errors, and request metrics.

mod attempt;
mod builder;
mod call;

use std::fmt;
use std::sync::Arc;

use backon::Retryable;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use builder::ServiceClientBuilder;
pub(crate) use builder::typed_client_basics;
pub use call::{Answer, Call, path_segment};

use super::RequestObserver;
use super::error::{ErrorClass, ServiceError};
use super::fair_turns::Tenant;
use super::http::{HttpSettings, build_client};
use super::retry::RetryPolicy;
use super::throttle::Throttle;

#[derive(Clone)]
pub struct ServiceClient {
    inner: Arc<Inner>,
    tenant: Tenant,
}

#[derive(Clone)]
struct Inner {
    service: &'static str,
    http: reqwest::Client,
    base: String,
    auth: Option<(HeaderName, HeaderValue)>,
    throttle: Arc<Throttle>,
    retry: RetryPolicy,
    observer: Arc<dyn RequestObserver>,
}

impl fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceClient")
            .field("service", &self.inner.service)
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

impl ServiceClient {
    /// `auth` is a header name and the secret value; the value is marked sensitive so hyper
    /// never prints it.
    pub fn new(
        service: &'static str,
        base_url: &str,
        auth: Option<(&'static str, &str)>,
        http: &HttpSettings,
        throttle: Arc<Throttle>,
        retry: RetryPolicy,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, ServiceError> {
        let base = base_url.trim_end_matches('/').to_string();
        let url =
            reqwest::Url::parse(&base).map_err(|e| ServiceError::Config(format!("url {base:?}: {e}")))?;
        if !scheme_allowed(&url) {
            return Err(ServiceError::Config(format!(
                "url {base:?} must be https (plain http only to a loopback address)"
            )));
        }
        let auth = match auth {
            Some((name, value)) => Some(auth_header(service, name, value)?),
            None => None,
        };
        let http = build_client(http).map_err(|e| ServiceError::Config(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                service,
                http,
                base,
                auth,
                throttle,
                retry,
                observer,
            }),
            tenant: Tenant::from(""),
        })
    }

    /// The same client and budget; requests wait for this tenant's fair turn.
    pub fn for_tenant(&self, tenant: Tenant) -> Self {
        Self {
            inner: self.inner.clone(),
            tenant,
        }
    }

    /// The same client and budget with another auth header (e.g. a fresh bearer token).
    pub fn with_auth(&self, name: &'static str, value: &str) -> Result<Self, ServiceError> {
        let auth = Some(auth_header(self.inner.service, name, value)?);
        let inner = Arc::new(Inner {
            auth,
            ..(*self.inner).clone()
        });
        Ok(Self {
            inner,
            tenant: self.tenant.clone(),
        })
    }

    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    pub fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    /// Sends with retries per the policy; non-idempotent calls are repeated only when the
    /// service certainly did not act (429, connection refused).
    pub async fn send<Q: Serialize + ?Sized>(&self, call: Call<'_, Q>) -> Result<Answer, ServiceError> {
        self.send_parsed(call, Ok).await
    }

    /// Sends and decodes the JSON body; a body that does not decode counts as a failed attempt,
    /// so a truncated answer to an idempotent call is fetched again.
    pub async fn send_json<Q: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        call: Call<'_, Q>,
    ) -> Result<T, ServiceError> {
        let service = self.inner.service;
        let endpoint = call.endpoint;
        self.send_parsed(call, |answer| answer.json(service, endpoint))
            .await
    }

    /// Sends and turns the answer into `T` inside the retry loop.
    pub async fn send_parsed<Q: Serialize + ?Sized, T>(
        &self,
        call: Call<'_, Q>,
        parse: impl Fn(Answer) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        self.send_typed(call, "application/json", parse).await
    }

    /// As [`Self::send`], with the body sent as `application/x-www-form-urlencoded`.
    pub async fn send_form<Q: Serialize + ?Sized>(&self, call: Call<'_, Q>) -> Result<Answer, ServiceError> {
        self.send_typed(call, "application/x-www-form-urlencoded", Ok)
            .await
    }

    async fn send_typed<Q: Serialize + ?Sized, T>(
        &self,
        call: Call<'_, Q>,
        content_type: &'static str,
        parse: impl Fn(Answer) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        let policy = self.inner.retry;
        let endpoint = call.endpoint;
        let idempotent = call.idempotent;
        let attempt = || async { self.send_once(&call, content_type).await.and_then(&parse) };
        attempt
            .retry(policy.backoff())
            .sleep(tokio::time::sleep)
            .when(|e: &ServiceError| should_retry(e, idempotent, &policy))
            .adjust(|e, backoff| policy.delay_with(backoff, e.retry_after()))
            .notify(|e, delay| tracing::debug!(service = self.inner.service, endpoint, error = %e, ?delay, "retrying"))
            .await
    }
}

/// The credential as a header value marked sensitive; the error never quotes it.
fn auth_header(
    service: &'static str,
    name: &'static str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), ServiceError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        ServiceError::Config(format!(
            "the {service} credential has characters not allowed in a header"
        ))
    })?;
    value.set_sensitive(true);
    Ok((HeaderName::from_static(name), value))
}

fn should_retry(error: &ServiceError, idempotent: bool, policy: &RetryPolicy) -> bool {
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

/// https anywhere; plain http only to loopback (the local simulator), where nothing crosses a
/// network. Credentials never travel in clear text.
fn scheme_allowed(url: &reqwest::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => {
            let host = url.host_str().unwrap_or_default();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            host.eq_ignore_ascii_case("localhost")
                || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn err(status: u16, retry_after: Option<u64>) -> ServiceError {
        ServiceError::Service {
            service: "TLM",
            endpoint: "submit",
            status,
            code: None,
            message: None,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn only_unprocessed_failures_repeat_a_non_idempotent_call() {
        let policy = RetryPolicy::default();
        assert!(!should_retry(&err(503, None), false, &policy));
        assert!(should_retry(&err(503, None), true, &policy));
        assert!(should_retry(&err(429, Some(3)), false, &policy));
        assert!(
            !should_retry(&err(429, Some(3600)), true, &policy),
            "a long Retry-After goes back to the caller"
        );
        let interrupted = ServiceError::Interrupted {
            service: "TLM",
            endpoint: "submit",
            reason: "reset".into(),
        };
        assert!(!should_retry(&interrupted, false, &policy));
    }

    #[test]
    fn only_https_or_loopback_http() {
        let ok = |u: &str| scheme_allowed(&reqwest::Url::parse(u).unwrap());
        assert!(ok("https://one.digicert.com"));
        assert!(ok("http://127.0.0.1:8443") && ok("http://[::1]:1") && ok("http://localhost:80"));
        assert!(!ok("http://one.digicert.com") && !ok("http://10.0.0.1") && !ok("ftp://127.0.0.1"));
    }
}
