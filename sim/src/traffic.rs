//! The per-request pipeline around every simulated endpoint: access log, counters, throttle
//! windows and fault injection. Handlers themselves know nothing about faults.
//!
//! Each endpoint request is served in a task of its own: hyper drops a request's future when
//! the client hangs up, and a real service does not forget an order because its client went
//! away. The connection only waits for the task's answer.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::counters::{Answered, DROPPED_STATUS};
use crate::endpoints::{Endpoint, Service};
use crate::errors::ApiError;
use crate::fault_responses::{injected_error, malformed, throttle_error, truncate};
use crate::faults::FaultAction;
use crate::server::ConnectionKill;
use crate::state::{AppState, lock};
use crate::throttle::RetryAfter;

/// How an endpoint task ends: with an answer, or with the connection to be closed unanswered.
enum Outcome {
    Answer(Response),
    Drop,
}

pub async fn traffic(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    // The path only: query strings may carry tokens in other services' conventions.
    let path = request.uri().path().to_string();
    let Some(endpoint) = Endpoint::classify(request.method(), &path) else {
        let response = next.run(request).await;
        log_request(&method, &path, response.status().as_u16(), started);
        return response;
    };
    let kill = request.extensions().get::<ConnectionKill>().cloned();
    let served = tokio::spawn(async move {
        let outcome = serve_endpoint(&state, endpoint, &method, &path, request, next).await;
        let status = match &outcome {
            Outcome::Answer(response) => response.status().as_u16(),
            Outcome::Drop => DROPPED_STATUS,
        };
        log_request(&method, &path, status, started);
        outcome
    });
    match served.await {
        Ok(Outcome::Answer(response)) => response,
        Ok(Outcome::Drop) => match kill {
            Some(kill) => {
                kill.trigger();
                std::future::pending::<Response>().await
            }
            // Not served through our accept loop (cannot happen in practice): fail loudly.
            None => ApiError::internal(endpoint.service(), "drop fault without a connection to drop")
                .into_response(),
        },
        Err(error) => {
            tracing::error!(%error, "endpoint task failed");
            ApiError::internal(endpoint.service(), "the simulator failed to serve this request")
                .into_response()
        }
    }
}

fn log_request(method: &str, path: &str, status: u16, started: Instant) {
    tracing::info!(
        method = %method,
        path = %path,
        status,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}

async fn serve_endpoint(
    state: &AppState,
    endpoint: Endpoint,
    method: &str,
    path: &str,
    mut request: Request,
    next: Next,
) -> Outcome {
    lock(&state.counters).request(endpoint);
    let record = |status: u16, throttled: bool| {
        lock(&state.counters).answered(Answered {
            endpoint,
            method,
            path,
            status,
            throttled,
        });
    };
    if endpoint == Endpoint::Hello {
        let response = next.run(request).await;
        record(response.status().as_u16(), false);
        return Outcome::Answer(response);
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
        record(response.status().as_u16(), true);
        return Outcome::Answer(response);
    }

    let plan = lock(&state.faults).decide(endpoint);
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    request.extensions_mut().insert(plan.ticket);
    let response = match plan.action {
        FaultAction::None => next.run(request).await,
        FaultAction::Drop => return dropped(method, path, record),
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
        FaultAction::AfterError { status } => {
            let _real = next.run(request).await;
            injected_error(service, status).into_response()
        }
        FaultAction::AfterDrop => {
            let _real = next.run(request).await;
            return dropped(method, path, record);
        }
    };

    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .filter(|_| response.status() == 429);
    let throttled = retry_after.is_some();
    if let Some(retry_after) = retry_after.and_then(RetryAfter::parse) {
        lock(&state.throttles).start(&caller, &retry_after);
    }
    record(response.status().as_u16(), throttled);
    Outcome::Answer(response)
}

fn dropped(method: &str, path: &str, record: impl Fn(u16, bool)) -> Outcome {
    record(DROPPED_STATUS, false);
    tracing::info!(method = %method, path = %path, "connection dropped by fault rule");
    Outcome::Drop
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
        Service::Qualys => format!("qv:{}", crate::qualys::caller_identity(headers)),
    }
}
