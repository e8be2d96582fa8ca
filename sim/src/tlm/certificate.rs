//! One certificate by serial: status, additional formats, revoke. Only issued certificates
//! have a serial clients can see; pending and rejected requests are not found here.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use time::OffsetDateTime;

use crate::errors::ApiError;
use crate::state::{AppState, read, write};
use crate::tlm::auth::authenticate;
use crate::tlm::bodies::parse_revoke;
use crate::tlm::lookup::{exact, newest, thumbprint_param};
use crate::tlm::store::CertificateState;
use crate::tlm::views::{additional_formats_view, status_view};

pub async fn status(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let store = read(&state.certificates);
    let index = newest(&store, &serial, &grant)?;
    let record = store
        .certificate(index)
        .ok_or_else(|| ApiError::not_found(format!("certificate {serial} not found")))?;
    Ok(Json(status_view(&state, record, OffsetDateTime::now_utc())))
}

pub async fn additional_formats(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let record = {
        let store = read(&state.certificates);
        let index = newest(&store, &serial, &grant)?;
        store
            .certificate(index)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("certificate {serial} not found")))?
    };
    Ok(Json(additional_formats_view(&state, &record)?))
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let reason = parse_revoke(&body)?;
    let thumbprint = thumbprint_param(raw.as_deref());
    let mut store = write(&state.certificates);
    let index = exact(&store, &serial, thumbprint.as_deref(), &grant)?;
    let now = OffsetDateTime::now_utc();
    let record = store
        .certificate_mut(index)
        .ok_or_else(|| ApiError::not_found(format!("certificate {serial} not found")))?;
    let hold = reason == "certificate_hold";
    match (&record.state, record.status(now)) {
        (CertificateState::Revoked { .. }, _) => {
            // TLM's message; DigiCert's Terraform provider matches on it.
            Err(ApiError::invalid_input("Certificate already has been revoked"))
        }
        (CertificateState::Suspended { .. }, _) if hold => {
            Err(ApiError::invalid_input("certificate is already suspended"))
        }
        (_, "expired") => Err(ApiError::invalid_input(
            "certificate has expired and cannot be revoked",
        )),
        _ => {
            record.state = if hold {
                CertificateState::Suspended { at: now }
            } else {
                CertificateState::Revoked {
                    reason: reason.to_string(),
                    at: now,
                }
            };
            Ok(StatusCode::NO_CONTENT)
        }
    }
}
