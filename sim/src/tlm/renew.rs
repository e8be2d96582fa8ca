//! `POST /mpki/api/v1/certificate/{serial}/renew[?thumbprint_sha256=]`: a new certificate for a
//! new CSR with the old one's subject, SANs, profile and seat, inside the renewal period only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::{Extension, Json};
use serde_json::Value;
use time::OffsetDateTime;

use crate::errors::ApiError;
use crate::faults::FaultTicket;
use crate::profiles::IssuanceMode;
use crate::state::{AppState, read};
use crate::tlm::auth::authenticate;
use crate::tlm::bodies::parse_renew;
use crate::tlm::enroll::{ensure_enrollable, issue_now};
use crate::tlm::issue::Issuance;
use crate::tlm::lookup::{exact, thumbprint_param};
use crate::tlm::order::{checked_validity, leaf_order, verified_csr};
use crate::tlm::store::{RequestRecord, RequestState};

pub async fn renew(
    State(state): State<Arc<AppState>>,
    Path(serial): Path<String>,
    RawQuery(raw): RawQuery,
    ticket: Option<Extension<FaultTicket>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let body = parse_renew(&body)?;
    let thumbprint = thumbprint_param(raw.as_deref());
    let old = {
        let store = read(&state.certificates);
        let index = exact(&store, &serial, thumbprint.as_deref(), &grant)?;
        store
            .certificate(index)
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("certificate {serial} not found")))?
    };
    let profile = state
        .profile(old.profile_id)
        .ok_or_else(|| ApiError::invalid_input("the certificate's profile no longer exists"))?;
    ensure_enrollable(profile)?;
    if profile.issuance == IssuanceMode::Approval {
        return Err(ApiError::invalid_input(
            "renewal needs a profile with authentication_method third_party_app",
        ));
    }
    let now = OffsetDateTime::now_utc();
    match old.status(now) {
        "issued" => {}
        other => {
            return Err(ApiError::invalid_input(format!(
                "certificate is {other} and cannot be renewed"
            )));
        }
    }
    let period = time::Duration::days(i64::from(profile.renewal_period_days));
    if now < old.certificate.not_after - period {
        return Err(ApiError::invalid_input(
            "certificate is not within the renewal period",
        ));
    }
    let validity = checked_validity(profile, body.validity)?.unwrap_or(if profile.allow_validity_override {
        old.requested.validity
    } else {
        profile.validity
    });
    let csr = verified_csr(&body.csr)?;
    let order = Arc::new(leaf_order(
        csr,
        old.requested.subject.clone(),
        old.requested.sans.clone(),
        validity,
    ));
    let issuance = Issuance {
        profile,
        seat_id: &old.seat_id,
        requested: &order,
        include_ca_chain: body.include_ca_chain,
        renewal_of: Some(&old.serial),
    };
    let request = RequestRecord {
        request_id: None,
        profile_id: profile.id,
        seat_id: old.seat_id.clone(),
        order: order.clone(),
        include_ca_chain: body.include_ca_chain,
        state: RequestState::Pending,
        serial: None,
        pickups: 0,
        renewal_of: Some(old.serial.clone()),
    };
    let faults = state.issuance_faults(ticket.as_ref().map(|Extension(t)| t));
    Ok(Json(issue_now(&state, &issuance, faults, request)?))
}
