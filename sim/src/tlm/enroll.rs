//! `POST /mpki/api/v1/certificate` (submit) and `POST /certificate/{serial}/renew`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use rand::RngCore;
use serde_json::Value;

use crate::ca::random_serial;
use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::names::SubjectFields;
use crate::profiles::{IssuanceMode, Profile};
use crate::state::{AppState, lock, read, write};
use crate::tlm::auth::{authenticate, authorize};
use crate::tlm::request::{NameDefaults, build_order, parse_enrollment, verified_csr};
use crate::tlm::store::{CertificateRecord, LeafOrder, RecordState};
use crate::tlm::views::enrollment_view;

pub async fn submit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let grant = authenticate(&state, &headers)?;
    let request = parse_enrollment(&body)?;
    let profile_id = request
        .profile_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid_input("profile.id is required"))?;
    let profile = state
        .profile(profile_id)
        .ok_or_else(|| ApiError::invalid_input(format!("profile {profile_id:?} does not exist")))?;
    authorize(&grant, profile.id)?;
    ensure_enrollable(profile)?;
    let csr = verified_csr(&request)?;
    let defaults = NameDefaults {
        subject: SubjectFields {
            common_name: csr.common_name.clone(),
            ..SubjectFields::default()
        },
        sans: csr.sans.clone(),
        validity: profile.validity,
    };
    let order = build_order(profile, csr, &request, defaults)?;
    accept(&state, profile, request.seat_id, order, None)
}

pub async fn renew(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let grant = authenticate(&state, &headers)?;
    let request = parse_enrollment(&body)?;
    let (old_serial, profile_id, seat_id, old_order, old_state) = {
        let store = read(&state.certificates);
        let record = store
            .get(&serial)
            .ok_or_else(|| ApiError::not_found(format!("certificate {serial} not found")))?;
        (
            record.serial.clone(),
            record.profile_id,
            record.seat_id.clone(),
            record.order.clone(),
            record.state.clone(),
        )
    };
    authorize(&grant, profile_id)?;
    match old_state {
        RecordState::Issued => {}
        RecordState::Revoked { .. } => {
            return Err(ApiError::invalid_input(
                "certificate is revoked and cannot be renewed",
            ));
        }
        other => {
            return Err(ApiError::invalid_input(format!(
                "certificate is {}, not issued",
                other.wire_name()
            )));
        }
    }
    let profile = state
        .profile(profile_id)
        .ok_or_else(|| ApiError::invalid_input("profile no longer exists"))?;
    ensure_enrollable(profile)?;
    let csr = verified_csr(&request)?;
    let defaults = NameDefaults {
        subject: old_order.subject.clone(),
        sans: old_order.sans.clone(),
        validity: if profile.allow_validity_override {
            old_order.validity
        } else {
            profile.validity
        },
    };
    let order = build_order(profile, csr, &request, defaults)?;
    accept(&state, profile, seat_id, order, Some(old_serial))
}

fn ensure_enrollable(profile: &Profile) -> Result<(), ApiError> {
    if !profile.active {
        return Err(ApiError::invalid_input("profile is disabled"));
    }
    if profile.enrollment_method != "rest_api" {
        return Err(ApiError::invalid_input(
            "profile does not allow rest_api enrollment",
        ));
    }
    Ok(())
}

/// Records an accepted order and, for immediate profiles, issues it right away.
fn accept(
    state: &AppState,
    profile: &Profile,
    seat_id: Option<String>,
    order: LeafOrder,
    renewal_of: Option<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let serial_bytes = random_serial();
    let order = Arc::new(order);
    let mut record = CertificateRecord {
        serial: hex::encode_upper(serial_bytes),
        serial_bytes,
        request_id: (profile.issuance == IssuanceMode::Pickup).then(new_request_id),
        seq: 0,
        profile_id: profile.id,
        seat_id,
        order: order.clone(),
        state: RecordState::Pending,
        certificate: None,
        status_polls: 0,
        pickup_polls: 0,
        renewal_of,
    };
    if profile.issuance == IssuanceMode::Immediate {
        let issued = state
            .sign_and_publish(&serial_bytes, &order)
            .map_err(|e| ApiError::internal(Service::Tlm, format!("issuance failed: {e}")))?;
        record.state = RecordState::Issued;
        record.certificate = Some(Arc::new(issued));
    }
    let body = match &record.request_id {
        Some(request_id) => serde_json::json!({"request_id": request_id, "status": "pending"}),
        None => enrollment_view(state, profile, &record)?,
    };
    if !write(&state.certificates).insert(record) {
        return Err(ApiError::internal(Service::Tlm, "serial number collision"));
    }
    lock(&state.counters).order(&order.spki_sha256);
    Ok((StatusCode::CREATED, Json(body)))
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("req-{}", hex::encode(bytes))
}
