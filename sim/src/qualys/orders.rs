//! One enrollment request: view it, change its status (approve, reject, cancel), and download
//! the issued certificate with its chain.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::issue::{self, ChangeError};
use super::store::Status;
use super::{auth, error, invalid, missing};
use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::{AppState, lock};

pub fn not_found(uuid: &str) -> ApiError {
    error(
        StatusCode::NOT_FOUND,
        "404",
        format!("No certificate request with uuid {uuid}"),
    )
}

pub async fn view(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth::authenticate(&state, &headers)?;
    super::views::view_of(&state, &uuid)
        .map(Json)
        .ok_or_else(|| not_found(&uuid))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: Option<String>,
    comment: Option<String>,
}

/// `PUT .../{uuid}/status` with `{"status": "APPROVED"|"CANCELLED"|"REJECTED", "comment": ...}`:
/// 204. Only a request not yet approved can be rejected or cancelled; only one of its
/// approvers may approve or reject it, its requester or an approver may cancel it.
pub async fn update_status(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let user = auth::authenticate(&state, &headers)?;
    let change: StatusChange = serde_json::from_slice(&body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "140001", format!("Malformed json: {e}")))?;
    let status = change.status.ok_or_else(|| missing("status"))?;
    if change.comment.is_none_or(|c| c.trim().is_empty()) {
        return Err(missing("comment"));
    }
    let (approver, requester) = {
        let book = lock(&state.qualys);
        let e = book.get(&uuid).ok_or_else(|| not_found(&uuid))?;
        (e.approvers.contains(&user), e.requester == user)
    };
    let allowed = match status.as_str() {
        "APPROVED" | "REJECTED" => approver,
        "CANCELLED" => approver || requester,
        other => {
            return Err(invalid(
                "status",
                format!("{other} (APPROVED, CANCELLED, REJECTED)"),
            ));
        }
    };
    if !allowed {
        return Err(error(
            StatusCode::FORBIDDEN,
            "403",
            format!("{user} may not set {status} on this request"),
        ));
    }
    let result = match status.as_str() {
        "APPROVED" => issue::approve(&state, &uuid),
        "REJECTED" => issue::close(&state, &uuid, Status::Rejected),
        _ => issue::close(&state, &uuid, Status::Cancelled),
    };
    result.map_err(|e| change_error(&uuid, &status, e))?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn change_error(uuid: &str, status: &str, e: ChangeError) -> ApiError {
    match e {
        ChangeError::NotFound(_) => not_found(uuid),
        ChangeError::WrongState(now) => invalid("status", format!("{status}: the request is {now}")),
        ChangeError::Signing(m) => ApiError::internal(Service::Qualys, m),
    }
}

/// `GET .../{uuid}/certificate`: the leaf, the issuing CA and the root as one PEM text (the
/// shape is the sim's choice; the real download is unverified, see `docs/qualys-wire.md`).
pub async fn download(
    State(state): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::authenticate(&state, &headers)?;
    let (leaf, broken_chain, status) = {
        let book = lock(&state.qualys);
        let e = book.get(&uuid).ok_or_else(|| not_found(&uuid))?;
        (
            e.issued.as_ref().map(|c| c.pem.clone()),
            e.faults.broken_chain,
            e.status,
        )
    };
    let Some(leaf) = leaf else {
        return Err(invalid(
            "uuid",
            format!("the request is {}, not ISSUED", status.wire_name()),
        ));
    };
    let intermediate = if broken_chain {
        &state.ca.impostor.pem
    } else {
        &state.ca.intermediate.pem
    };
    let body = format!(
        "{}{}{}",
        with_newline(&leaf),
        with_newline(intermediate),
        with_newline(&state.ca.root.pem)
    );
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    Ok(response)
}

fn with_newline(pem: &str) -> String {
    if pem.ends_with('\n') {
        pem.to_string()
    } else {
        format!("{pem}\n")
    }
}
