//! One attempt at a request: build it, wait for the throttle, send, read the bounded body, let
//! the throttle learn from the answer, and turn the outcome into an [`Answer`] or a typed error.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::ServiceClient;
use super::call::{Answer, Call};
use crate::clients::adaptive_rate::Load;
use crate::clients::error::{ServiceError, parse_error_body};
use crate::clients::http::{read_body_limited, retry_after_of};

/// How long every request waits after a 429 that named no `Retry-After`.
const DEFAULT_THROTTLE_HOLD: Duration = Duration::from_secs(1);

impl ServiceClient {
    pub(super) async fn send_once<Q: Serialize + ?Sized>(
        &self,
        call: &Call<'_, Q>,
        content_type: &'static str,
    ) -> Result<Answer, ServiceError> {
        let inner = &self.inner;
        let (service, endpoint) = (inner.service, call.endpoint);
        let mut request = inner
            .http
            .request(call.method.clone(), format!("{}{}", inner.base, call.path))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some((name, value)) = &inner.auth {
            request = request.header(name.clone(), value.clone());
        }
        if let Some(query) = call.query {
            request = request.query(query);
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body.clone());
        }
        let _permit = inner.throttle.admit(&self.tenant).await;
        let started = Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                inner.observer.observe(service, endpoint, None, started.elapsed());
                if e.is_timeout() {
                    inner.throttle.record(Load::Overloaded);
                }
                return Err(transport_error(service, endpoint, &e));
            }
        };
        let status = response.status().as_u16();
        let retry_after = retry_after_of(response.headers());
        if let Some(rate) = inner.throttle.record(Load::of_status(status)) {
            tracing::debug!(service, endpoint, status, rate, "request rate adapted");
        }
        let bytes = read_body_limited(response).await;
        inner
            .observer
            .observe(service, endpoint, Some(status), started.elapsed());
        if status == 429 || retry_after.is_some() && (status >= 500 || status == 409) {
            inner
                .throttle
                .hold_for(retry_after.unwrap_or(DEFAULT_THROTTLE_HOLD));
        }
        let body = bytes.map_err(|e| transport_error(service, endpoint, &e))?;
        if (200..300).contains(&status) {
            return Ok(Answer {
                status,
                retry_after,
                body,
            });
        }
        let (code, message) = parse_error_body(&body);
        Err(ServiceError::Service {
            service,
            endpoint,
            status,
            code,
            message,
            retry_after,
        })
    }
}

fn transport_error(service: &'static str, endpoint: &'static str, error: &reqwest::Error) -> ServiceError {
    // reqwest's Display names the URL, which carries no secret (credentials are headers).
    let reason = error_chain(error);
    if error.is_timeout() {
        ServiceError::Timeout { service, endpoint }
    } else if error.is_connect() {
        ServiceError::Connect {
            service,
            endpoint,
            reason,
        }
    } else {
        ServiceError::Interrupted {
            service,
            endpoint,
            reason,
        }
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
