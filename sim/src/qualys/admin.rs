//! `/sim/qualys/...`: what the approvers and DigiCert do, for tests (loopback only, no auth).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};

use super::issue;
use super::orders::change_error;
use super::store::Status;
use crate::errors::ApiError;
use crate::state::{AppState, lock};

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/sim/qualys/orders", get(list))
        .route("/sim/qualys/orders/{uuid}/approve", post(approve))
        .route("/sim/qualys/orders/{uuid}/issue", post(issue_now))
        .route("/sim/qualys/orders/{uuid}/reject", post(reject))
        .route_layer(middleware::from_fn_with_state(state, crate::admin::loopback_only))
}

/// Every request, oldest first: uuid, status, caStatus, common name and the CSR key's SPKI
/// SHA-256 (tests count orders per key with it).
pub fn summaries(state: &AppState) -> Vec<Value> {
    lock(&state.qualys)
        .all()
        .iter()
        .map(|e| {
            json!({
                "uuid": e.uuid,
                "status": e.status.wire_name(),
                "caStatus": e.ca_status,
                "commonName": e.common_name,
                "spkiSha256": e.leaf.spki_sha256,
            })
        })
        .collect()
}

/// `approve`, `issue` or `reject` (see the routes), for `Sim::qualys_act`.
pub fn act(state: &AppState, uuid: &str, action: &str) -> Result<(), String> {
    let result = match action {
        "approve" => issue::approve(state, uuid),
        "issue" => issue::issue(state, uuid),
        "reject" => reject_as_whoever_can(state, uuid),
        other => return Err(format!("unknown action {other:?} (approve, issue, reject)")),
    };
    result.map_err(|e| e.to_string())
}

/// A `SUBMITTED` request is rejected by its approver (`REJECTED`); an `APPROVED` one by DigiCert
/// (caStatus `rejected`).
fn reject_as_whoever_can(state: &AppState, uuid: &str) -> Result<(), issue::ChangeError> {
    // Read the status first: the lock must be released before the transition takes it again.
    let status = lock(&state.qualys).get(uuid).map(|e| e.status);
    match status {
        Some(Status::Approved) => issue::ca_reject(state, uuid),
        _ => issue::close(state, uuid, Status::Rejected),
    }
}

async fn list(State(state): State<Arc<AppState>>) -> Json<Vec<Value>> {
    Json(summaries(&state))
}

async fn approve(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    issue::approve(&state, &uuid).map_err(|e| change_error(&uuid, "APPROVED", e))?;
    Ok(Json(current(&state, &uuid)))
}

async fn issue_now(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    issue::issue(&state, &uuid).map_err(|e| change_error(&uuid, "ISSUED", e))?;
    Ok(Json(current(&state, &uuid)))
}

async fn reject(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    reject_as_whoever_can(&state, &uuid).map_err(|e| change_error(&uuid, "REJECTED", e))?;
    Ok(Json(current(&state, &uuid)))
}

fn current(state: &AppState, uuid: &str) -> Value {
    let book = lock(&state.qualys);
    book.get(uuid)
        .map(|e| json!({"uuid": e.uuid, "status": e.status.wire_name(), "caStatus": e.ca_status}))
        .unwrap_or(Value::Null)
}
