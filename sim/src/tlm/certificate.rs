//! One certificate by serial: status (with auto-approval), additional formats, revoke.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use crate::errors::ApiError;
use crate::profiles::IssuanceMode;
use crate::state::{AppState, ReleaseError, read, write};
use crate::tlm::auth::{authenticate, authorize};
use crate::tlm::store::RecordState;
use crate::tlm::views::{additional_formats_view, status_view};

fn not_found(serial: &str) -> ApiError {
    ApiError::not_found(format!("certificate {serial} not found"))
}

pub async fn status(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let release_now = {
        let mut store = write(&state.certificates);
        let record = store.get_mut(&serial).ok_or_else(|| not_found(&serial))?;
        authorize(&grant, record.profile_id)?;
        let awaits_approval =
            state.profile(record.profile_id).map(|p| p.issuance) == Some(IssuanceMode::Approval);
        match state.options.auto_approve_after_polls {
            Some(polls) if awaits_approval && record.state == RecordState::Pending => {
                record.status_polls += 1;
                record.status_polls > polls
            }
            _ => false,
        }
    };
    if release_now {
        match state.release_pending(&serial) {
            // Someone else (an admin approval, a concurrent poll) got there first: just report.
            Ok(_) | Err(ReleaseError::NotPending { .. }) => {}
            Err(error) => {
                return Err(ApiError::internal(
                    crate::endpoints::Service::Tlm,
                    error.to_string(),
                ));
            }
        }
    }
    let store = read(&state.certificates);
    let record = store.get(&serial).ok_or_else(|| not_found(&serial))?;
    Ok(Json(status_view(&state, record, true)))
}

pub async fn additional_formats(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let certificate = {
        let store = read(&state.certificates);
        let record = store.get(&serial).ok_or_else(|| not_found(&serial))?;
        authorize(&grant, record.profile_id)?;
        match (&record.state, &record.certificate) {
            (RecordState::Issued | RecordState::Revoked { .. }, Some(cert)) => cert.clone(),
            (other, _) => {
                return Err(ApiError::invalid_state(format!(
                    "certificate {serial} is {}, not issued",
                    other.wire_name()
                )));
            }
        }
    };
    Ok(Json(additional_formats_view(&state, &certificate)?))
}

#[derive(Debug, Default, Deserialize)]
struct RevokeBody {
    revocation_reason: Option<String>,
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let body: RevokeBody = if body.iter().all(u8::is_ascii_whitespace) {
        RevokeBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_input(format!("Wrong input or input format: {e}")))?
    };
    let mut store = write(&state.certificates);
    let record = store.get_mut(&serial).ok_or_else(|| not_found(&serial))?;
    authorize(&grant, record.profile_id)?;
    match record.state {
        RecordState::Issued => {
            record.state = RecordState::Revoked {
                reason: body.revocation_reason,
            };
            Ok(StatusCode::NO_CONTENT)
        }
        RecordState::Revoked { .. } => Err(ApiError::invalid_input("certificate is already revoked")),
        ref other => Err(ApiError::invalid_input(format!(
            "certificate is {}, not issued",
            other.wire_name()
        ))),
    }
}
