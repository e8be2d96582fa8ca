//! `POST /mpki/api/v1/certificate-pickup/{request_id}` with `{"profile":{"id"}}`: where an
//! approval or pickup request is collected. `prof-pickup` is signed at its second pickup;
//! `prof-pending` when approved, or after `auto_approve_after_polls` pickups.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde_json::{Value, json};

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::faults::FaultTicket;
use crate::profiles::IssuanceMode;
use crate::state::{AppState, read, write};
use crate::tlm::auth::{authenticate, authorize};
use crate::tlm::bodies::parse_pickup;
use crate::tlm::issue::{ReleaseError, release};
use crate::tlm::store::RequestState;
use crate::tlm::views::enrollment_view;

/// Pickups a `prof-pickup` request answers PENDING before it is signed.
const PICKUP_PROFILE_WAITS: u32 = 1;

pub async fn pickup(
    State(state): State<Arc<AppState>>,
    Path(request_id): Path<String>,
    ticket: Option<Extension<FaultTicket>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let profile_id = parse_pickup(&body)?;
    let not_found = || ApiError::not_found(format!("request {request_id} not found"));
    let release_now = {
        let mut store = write(&state.certificates);
        let index = store.request_index(&request_id).ok_or_else(not_found)?;
        let request = store.request_mut(index).ok_or_else(not_found)?;
        authorize(&grant, request.profile_id)?;
        if profile_id != request.profile_id {
            return Err(ApiError::invalid_field(
                "profile.id",
                format!("request {request_id} was not made for profile {profile_id}"),
            ));
        }
        if request.state == RequestState::Pending {
            request.pickups += 1;
            let waits = match state.profile(request.profile_id).map(|p| p.issuance) {
                Some(IssuanceMode::Pickup) => Some(PICKUP_PROFILE_WAITS),
                Some(IssuanceMode::Approval) => state.options.auto_approve_after_polls,
                _ => None,
            };
            waits
                .is_some_and(|waits| request.pickups > waits)
                .then_some(index)
        } else {
            None
        }
    };
    if let Some(index) = release_now {
        let faults = state.issuance_faults(ticket.as_ref().map(|Extension(t)| t));
        match release(&state, index, faults) {
            // Someone else (an admin approval, a concurrent pickup) got there first: just report.
            Ok(_) | Err(ReleaseError::NotPending { .. }) => {}
            Err(error) => return Err(ApiError::internal(Service::Tlm, error.to_string())),
        }
    }
    let store = read(&state.certificates);
    let request = store
        .request_index(&request_id)
        .and_then(|index| store.request(index))
        .ok_or_else(not_found)?;
    let issued = request
        .serial
        .as_deref()
        .and_then(|serial| store.newest_with_serial(serial))
        .and_then(|index| store.certificate(index));
    match (request.state, issued) {
        (RequestState::Issued, Some(record)) => {
            let profile = state.profile(record.profile_id).ok_or_else(not_found)?;
            let mut view = enrollment_view(&state, profile, record)?;
            view.insert("request_id".into(), json!(request_id));
            view.insert("status".into(), json!(RequestState::Issued.wire_name()));
            Ok(Json(Value::Object(view)))
        }
        (other, _) => Ok(Json(
            json!({"request_id": request_id, "status": other.wire_name()}),
        )),
    }
}
