//! `/sim/...`: the test harness's controls. No auth, but only loopback peers are served.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::certspotter::injection::Injection;
use crate::counters::Counters;
use crate::errors::ApiError;
use crate::faults::FaultRule;
use crate::request_info::RequestInfo;
use crate::state::{AppState, StatusChangeError, lock};
use crate::tlm::issue::ReleaseError;

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/sim/ca", get(ca))
        .route("/sim/requests", get(requests))
        .route("/sim/requests/{request_id}/approve", post(approve))
        .route("/sim/requests/{request_id}/reject", post(reject))
        .route("/sim/certificates/{serial}/status", post(set_certificate_status))
        .route("/sim/counters", get(counters))
        .route("/sim/counters/reset", post(reset_counters))
        .route(
            "/sim/faults",
            put(set_faults).delete(clear_faults).get(list_faults),
        )
        .route("/sim/ct/issuances", post(inject))
        .route_layer(middleware::from_fn_with_state(state, loopback_only))
}

pub(crate) async fn loopback_only(State(_): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    match peer {
        Some(peer) if peer.ip().is_loopback() => next.run(request).await,
        _ => ApiError::access_denied("the /sim admin API is served to loopback peers only").into_response(),
    }
}

async fn ca(State(state): State<Arc<AppState>>) -> Json<Value> {
    let mut body = json!({"root_pem": state.ca.root.pem, "intermediate_pem": state.ca.intermediate.pem});
    if let Some(tls_ca_pem) = &state.tls_ca_pem {
        body["tls_ca_pem"] = json!(tls_ca_pem);
    }
    Json(body)
}

fn release_error(error: ReleaseError) -> ApiError {
    match error {
        ReleaseError::NotFound(_) => ApiError::not_found(error.to_string()),
        ReleaseError::NotPending { .. } => ApiError::invalid_state(error.to_string()),
        ReleaseError::Signing(_) => ApiError::internal(crate::endpoints::Service::Tlm, error.to_string()),
    }
}

async fn requests(State(state): State<Arc<AppState>>) -> Json<Vec<RequestInfo>> {
    Json(state.requests())
}

async fn approve(
    State(state): State<Arc<AppState>>,
    Path(request_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let serial = state.approve(&request_id).map_err(release_error)?;
    Ok(Json(
        json!({"request_id": request_id, "status": "ISSUED", "serial_number": serial}),
    ))
}

async fn reject(
    State(state): State<Arc<AppState>>,
    Path(request_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.reject(&request_id).map_err(release_error)?;
    Ok(Json(json!({"request_id": request_id, "status": "REJECTED"})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: String,
}

async fn set_certificate_status(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let change: StatusChange = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_request(format!("expected {{\"status\": ...}}: {e}")))?;
    match state.set_certificate_status(&serial, &change.status) {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(error @ StatusChangeError::NotFound(_)) => Err(ApiError::not_found(error.to_string())),
        Err(error @ StatusChangeError::UnknownStatus(_)) => {
            Err(ApiError::invalid_field("status", error.to_string()))
        }
    }
}

async fn counters(State(state): State<Arc<AppState>>) -> Json<Counters> {
    Json(lock(&state.counters).snapshot())
}

async fn reset_counters(State(state): State<Arc<AppState>>) -> StatusCode {
    lock(&state.counters).reset();
    StatusCode::NO_CONTENT
}

async fn set_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Result<StatusCode, ApiError> {
    let rules: Vec<FaultRule> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_input(format!("invalid fault rules: {e}")))?;
    for rule in &rules {
        rule.validate().map_err(ApiError::invalid_input)?;
    }
    lock(&state.faults).set_rules(rules);
    Ok(StatusCode::NO_CONTENT)
}

/// Also forgets current throttle windows, so a test that lifts faults is not still refused.
async fn clear_faults(State(state): State<Arc<AppState>>) -> StatusCode {
    lock(&state.faults).set_rules(Vec::new());
    lock(&state.throttles).clear();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(state): State<Arc<AppState>>) -> Json<Vec<FaultRule>> {
    Json(lock(&state.faults).rules())
}

async fn inject(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let injection: Injection = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_input(format!("invalid injection: {e}")))?;
    let id = state.inject(&injection).map_err(ApiError::invalid_input)?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))))
}
