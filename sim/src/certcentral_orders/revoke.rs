//! `PUT /certificate/{certificate_id}/revoke`: with `skip_approval` the certificate is revoked
//! now (204, empty); without, a pending revoke request is answered (201) and an admin approves it.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::OffsetDateTime;

use crate::errors::ApiError;
use crate::state::{AppState, lock};

use super::auth::{authenticate, bad_request, not_found, parse_id, require_json};
use super::body::{REVOCATION_REASONS, RevokeBody, check_text, parse};
use super::store::{Order, OrderStatus};
use super::views::timestamp;

/// Marks certificate `id` revoked; the order is revoked when its current certificate is.
pub fn revoke_now(order: &mut Order, id: u64) {
    if let Some(certificate) = order.certificates.iter_mut().find(|c| c.id == id) {
        certificate.revoked = true;
    }
    if order.current().is_some_and(|c| c.revoked) {
        order.status = OrderStatus::Revoked;
    }
    order.pending_revoke = None;
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authenticate(&state, &headers)?;
    let id = parse_id("not_found|certificate", &id)?;
    let body: RevokeBody = if body.is_empty() {
        RevokeBody::default()
    } else {
        require_json(&headers)?;
        parse(&body)?
    };
    if let Some(comments) = &body.comments {
        check_text("comments", comments)?;
    }
    if let Some(reason) = &body.revocation_reason
        && !REVOCATION_REASONS.contains(&reason.as_str())
    {
        return Err(bad_request(
            "invalid_revocation_reason",
            format!("revocation_reason {reason:?} is not one of {REVOCATION_REASONS:?}"),
        ));
    }
    let mut book = lock(&state.certcentral_orders);
    let request_id = book.fresh_id();
    let order = book
        .order_of_certificate_mut(id)
        .ok_or_else(|| not_found("not_found|certificate", format!("certificate {id} not found")))?;
    if order.status == OrderStatus::ReissuePending {
        return Err(bad_request(
            "invalid_order_status",
            "a certificate with a pending reissue cannot be revoked",
        ));
    }
    if order.certificates.iter().any(|c| c.id == id && c.revoked) {
        return Err(bad_request(
            "already_revoked",
            format!("certificate {id} is already revoked"),
        ));
    }
    if body.skip_approval.unwrap_or(false) {
        revoke_now(order, id);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    order.pending_revoke = Some(id);
    let answer = json!({
        "id": request_id,
        "date": timestamp(OffsetDateTime::now_utc()),
        "type": "revoke",
        "status": "pending",
        "requester": {"id": 1, "first_name": "tlm-sim", "last_name": "API", "email": "api@tlm-sim.invalid"},
        "comments": body.comments,
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}
