//! `POST /mpki/api/v1/certificate`: submit. Immediate profiles answer with the certificate;
//! approval and pickup profiles with a request id only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use rand::RngCore;
use serde_json::{Value, json};

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::faults::{FaultTicket, IssuanceFaults};
use crate::profiles::{IssuanceMode, Profile};
use crate::state::{AppState, lock, write};
use crate::tlm::auth::{authenticate, authorize};
use crate::tlm::bodies::parse_submit;
use crate::tlm::issue::{Issuance, sign, store};
use crate::tlm::order::{checked_validity, leaf_order, names_for_submit, verified_csr};
use crate::tlm::store::{LeafOrder, RequestRecord, RequestState};
use crate::tlm::views::enrollment_view;

pub async fn submit(
    State(state): State<Arc<AppState>>,
    ticket: Option<Extension<FaultTicket>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let grant = authenticate(&state, &headers)?;
    let request = parse_submit(&body)?;
    let profile = state.profile(&request.profile_id).ok_or_else(|| {
        ApiError::invalid_field(
            "profile.id",
            format!("profile {:?} does not exist", request.profile_id),
        )
    })?;
    authorize(&grant, profile.id)?;
    ensure_enrollable(profile)?;
    let validity = checked_validity(profile, request.validity)?.unwrap_or(profile.validity);
    let csr = verified_csr(&request.csr)?;
    let (subject, sans) = names_for_submit(profile, &csr, &request.attributes)?;
    let order = Arc::new(leaf_order(csr, subject, sans, validity));
    let pending = RequestRecord {
        request_id: None,
        profile_id: profile.id,
        seat_id: request.seat_id.clone(),
        order: order.clone(),
        include_ca_chain: request.include_ca_chain,
        state: RequestState::Pending,
        serial: None,
        pickups: 0,
        renewal_of: None,
    };
    if profile.issuance != IssuanceMode::Immediate {
        let request_id = new_request_id();
        write(&state.certificates).add_request(RequestRecord {
            request_id: Some(request_id.clone()),
            ..pending
        });
        count_order(&state, &order);
        return Ok((
            StatusCode::CREATED,
            Json(json!({"request_id": request_id, "status": "PENDING"})),
        ));
    }
    let faults = state.issuance_faults(ticket.as_ref().map(|Extension(t)| t));
    let issuance = Issuance {
        profile,
        seat_id: &request.seat_id,
        requested: &order,
        include_ca_chain: request.include_ca_chain,
        renewal_of: None,
    };
    let body = issue_now(&state, &issuance, faults, pending)?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// Signs an immediate request, records it with its certificate and counts the order.
pub fn issue_now(
    state: &AppState,
    issuance: &Issuance<'_>,
    faults: IssuanceFaults,
    request: RequestRecord,
) -> Result<Value, ApiError> {
    let records = sign(state, issuance, faults)
        .map_err(|e| ApiError::internal(Service::Tlm, format!("issuance failed: {e}")))?;
    let real = records
        .last()
        .ok_or_else(|| ApiError::internal(Service::Tlm, "issuance produced no certificate"))?;
    let body = enrollment_view(state, issuance.profile, real)?;
    {
        let mut inventory = write(&state.certificates);
        let serial = store(&mut inventory, records);
        inventory.add_request(RequestRecord {
            state: RequestState::Issued,
            serial,
            ..request
        });
    }
    count_order(state, issuance.requested);
    Ok(Value::Object(body))
}

fn count_order(state: &AppState, order: &LeafOrder) {
    lock(&state.counters).order(&order.spki_sha256);
}

pub fn ensure_enrollable(profile: &Profile) -> Result<(), ApiError> {
    if !profile.active {
        return Err(ApiError::invalid_field("profile.id", "profile is disabled"));
    }
    if profile.enrollment_method != "rest_api" {
        return Err(ApiError::invalid_field(
            "profile.id",
            "profile does not allow rest_api enrollment",
        ));
    }
    Ok(())
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    format!("req-{}", hex::encode(bytes))
}
