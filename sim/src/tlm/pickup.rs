//! `POST /mpki/api/v1/certificate-pickup/{request_id}`: the first poll finds the request still
//! pending, later polls get the issued certificate.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::{AppState, ReleaseError, read, write};
use crate::tlm::auth::{authenticate, authorize};
use crate::tlm::store::RecordState;
use crate::tlm::views::delivered_certificate;

pub async fn pickup(
    State(state): State<Arc<AppState>>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let not_found = || ApiError::not_found(format!("request {request_id} not found"));
    let serial = read(&state.certificates)
        .serial_for_request(&request_id)
        .ok_or_else(not_found)?;
    let release_now = {
        let mut store = write(&state.certificates);
        let record = store.get_mut(&serial).ok_or_else(not_found)?;
        authorize(&grant, record.profile_id)?;
        if record.state == RecordState::Pending {
            record.pickup_polls += 1;
            record.pickup_polls > 1
        } else {
            false
        }
    };
    if release_now {
        match state.release_pending(&serial) {
            Ok(_) | Err(ReleaseError::NotPending { .. }) => {}
            Err(error) => return Err(ApiError::internal(Service::Tlm, error.to_string())),
        }
    }
    let store = read(&state.certificates);
    let record = store.get(&serial).ok_or_else(not_found)?;
    let profile = state.profile(record.profile_id).ok_or_else(not_found)?;
    let view = match (&record.state, &record.certificate) {
        (RecordState::Issued | RecordState::Revoked { .. }, Some(cert)) => json!({
            "request_id": request_id,
            "status": record.state.wire_name(),
            "serial_number": record.serial,
            "delivery_format": profile.delivery.name(),
            "certificate": delivered_certificate(&state, profile, cert)?,
        }),
        (other, _) => json!({"request_id": request_id, "status": other.wire_name()}),
    };
    Ok(Json(view))
}
