//! The per-request pipeline around every simulated endpoint: access log, counters, throttle
//! windows and fault injection. Handlers themselves know nothing about faults.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::counters::{Answered, DROPPED_STATUS};
use crate::endpoints::{Endpoint, Service};
use crate::errors::ApiError;
use crate::faults::FaultAction;
use crate::server::ConnectionKill;
use crate::state::{AppState, lock};
use crate::throttle::RetryAfter;

/// What `malformed` faults serve instead of the real body: what a misbehaving proxy might send.
const GARBAGE_BODY: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>\u{0}{\"serial_number\":";

pub async fn traffic(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    // The path only: query strings may carry tokens in other services' conventions.
    let path = request.uri().path().to_string();
    let response = match Endpoint::classify(request.method(), &path) {
        Some(endpoint) => serve_endpoint(&state, endpoint, &method, &path, request, next).await,
        None => next.run(request).await,
    };
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

async fn serve_endpoint(
    state: &AppState,
    endpoint: Endpoint,
    method: &str,
    path: &str,
    request: Request,
    next: Next,
) -> Response {
    lock(&state.counters).request(endpoint);
    let record = |response: &Response, throttled: bool| {
        lock(&state.counters).answered(Answered {
            endpoint,
            method,
            path,
            status: response.status().as_u16(),
            throttled,
        });
    };
    if endpoint == Endpoint::Hello {
        let response = next.run(request).await;
        record(&response, false);
        return response;
    }

    let service = endpoint.service();
    let caller = caller_identity(service, request.headers());
    let still_throttled = lock(&state.throttles).check(&caller);
    if let Some(still) = still_throttled {
        if still.early {
            lock(&state.counters).early_request();
        }
        let response = throttle_error(service)
            .with_retry_after(still.retry_after)
            .into_response();
        record(&response, true);
        return response;
    }

    let plan = lock(&state.faults).decide(endpoint);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let response = match plan.action {
        FaultAction::None => next.run(request).await,
        FaultAction::Drop => {
            let Some(kill) = request.extensions().get::<ConnectionKill>().cloned() else {
                // Not served through our accept loop (cannot happen in practice): fail loudly instead.
                return ApiError::internal(service, "drop fault without a connection to drop")
                    .into_response();
            };
            lock(&state.counters).answered(Answered {
                endpoint,
                method,
                path,
                status: DROPPED_STATUS,
                throttled: false,
            });
            tracing::info!(method = %method, path = %path, "connection dropped by fault rule");
            kill.trigger();
            return std::future::pending::<Response>().await;
        }
        FaultAction::Throttle {
            retry_after_seconds,
            http_date,
        } => {
            let retry_after = RetryAfter::new(retry_after_seconds, http_date);
            throttle_error(service)
                .with_retry_after(retry_after.header)
                .into_response()
        }
        FaultAction::Error { status } => injected_error(service, status).into_response(),
        FaultAction::Truncate => truncate(next.run(request).await).await,
        FaultAction::Malformed => malformed(next.run(request).await),
    };

    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .filter(|_| response.status() == 429);
    let throttled = retry_after.is_some();
    if let Some(retry_after) = retry_after.and_then(RetryAfter::parse) {
        lock(&state.throttles).start(&caller, &retry_after);
    }
    record(&response, throttled);
    response
}

/// Who a throttle window applies to: the API key, token or devkey (empty when none was sent).
fn caller_identity(service: Service, headers: &HeaderMap) -> String {
    let header_value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    match service {
        Service::Tlm => format!("tlm:{}", header_value(crate::tlm::auth::API_KEY_HEADER)),
        Service::CertSpotter => {
            format!(
                "cs:{}",
                crate::certspotter::auth::presented_token(headers).unwrap_or_default()
            )
        }
        Service::CertCentral => format!("cc:{}", header_value(crate::certcentral::DEVKEY_HEADER)),
    }
}

fn throttle_error(service: Service) -> ApiError {
    let code = match service {
        Service::Tlm => "rate_limit_exceeded",
        Service::CertSpotter => "rate_limited",
        Service::CertCentral => "request_limit_exceeded",
    };
    ApiError::new(
        service,
        StatusCode::TOO_MANY_REQUESTS,
        code,
        "too many requests, retry later",
    )
}

fn injected_error(service: Service, status: u16) -> ApiError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::TOO_MANY_REQUESTS {
        // An injected 429 without Retry-After, as CertCentral sends them.
        return throttle_error(service);
    }
    ApiError::new(service, status, "internal_error", "injected fault")
}

/// The real answer with its body cut in half; Content-Length matches the cut body, so the
/// client sees a complete HTTP response whose payload does not parse.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

/// The real status and headers, with garbage for a body.
fn malformed(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(GARBAGE_BODY))
}
