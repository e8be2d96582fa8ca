//! `/sim/certcentral/orders...`: the test harness approves, issues, rejects and cancels orders
//! (loopback only, like every `/sim` route); `Sim` offers the same as methods.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::{AppState, lock};

use super::revoke::revoke_now;
use super::sign::complete;
use super::store::OrderStatus;

/// Why an admin action on an order was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no CertCentral order {0}")]
    NotFound(u64),
    #[error("order {id} is {status}: nothing to {action}")]
    WrongState {
        id: u64,
        status: &'static str,
        action: &'static str,
    },
    #[error("signing failed: {0}")]
    Signing(String),
}

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/sim/certcentral/orders", get(list))
        .route("/sim/certcentral/orders/{id}/{action}", post(act))
        .route_layer(middleware::from_fn_with_state(state, crate::admin::loopback_only))
}

/// Approves what waits for approval: the order (then issued, or pending validation), a reissue,
/// or a revocation.
pub fn approve(state: &AppState, id: u64) -> Result<(), AdminError> {
    let issue = {
        let mut book = lock(&state.certcentral_orders);
        let order = book.order_mut(id).ok_or(AdminError::NotFound(id))?;
        if let Some(certificate) = order.pending_revoke {
            revoke_now(order, certificate);
            return Ok(());
        }
        let Some(request) = order.requests.iter_mut().rev().find(|r| r.status == "pending") else {
            return Err(AdminError::WrongState {
                id,
                status: order.status.wire_name(),
                action: "approve",
            });
        };
        request.status = "approved";
        if order.status == OrderStatus::NeedsApproval {
            order.status = OrderStatus::Pending;
        }
        !state.options.certcentral_pending_validation
    };
    if issue { self::issue(state, id) } else { Ok(()) }
}

/// Completes validation: issues the order's certificate (or reissue) now.
pub fn issue(state: &AppState, id: u64) -> Result<(), AdminError> {
    match complete(state, id) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            let book = lock(&state.certcentral_orders);
            let order = book.order(id).ok_or(AdminError::NotFound(id))?;
            Err(AdminError::WrongState {
                id,
                status: order.status.wire_name(),
                action: "issue",
            })
        }
        Err(e) => Err(AdminError::Signing(e.to_string())),
    }
}

/// Rejects (`rejected`) or cancels (`canceled`) a waiting order; a waiting reissue is dropped
/// and the order is `issued` again, its request marked rejected.
pub fn settle(state: &AppState, id: u64, to: OrderStatus) -> Result<(), AdminError> {
    let mut book = lock(&state.certcentral_orders);
    let order = book.order_mut(id).ok_or(AdminError::NotFound(id))?;
    match order.status {
        OrderStatus::NeedsApproval | OrderStatus::Pending => order.status = to,
        OrderStatus::ReissuePending => {
            order.reissue = None;
            order.status = OrderStatus::Issued;
        }
        other => {
            return Err(AdminError::WrongState {
                id,
                status: other.wire_name(),
                action: if to == OrderStatus::Rejected {
                    "reject"
                } else {
                    "cancel"
                },
            });
        }
    }
    for request in &mut order.requests {
        if request.status == "pending" {
            request.status = "rejected";
        }
    }
    Ok(())
}

async fn list(State(state): State<Arc<AppState>>) -> Json<Value> {
    let book = lock(&state.certcentral_orders);
    let orders: Vec<Value> = book
        .orders
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "status": o.status.wire_name(),
                "common_name": o.requested.common_name,
                "product_name_id": o.product.name_id,
                "certificate_ids": o.certificates.iter().map(|c| c.id).collect::<Vec<_>>(),
                "notes": o.notes.iter().map(|n| n.text.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!(orders))
}

async fn act(
    State(state): State<Arc<AppState>>,
    Path((id, action)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::not_found(format!("no CertCentral order {id:?}")))?;
    let result = match action.as_str() {
        "approve" => approve(&state, id),
        "issue" => issue(&state, id),
        "reject" => settle(&state, id, OrderStatus::Rejected),
        "cancel" => settle(&state, id, OrderStatus::Canceled),
        other => return Err(ApiError::not_found(format!("no admin action {other:?}"))),
    };
    match result {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e @ AdminError::NotFound(_)) => Err(ApiError::not_found(e.to_string())),
        Err(e @ AdminError::WrongState { .. }) => Err(ApiError::invalid_state(e.to_string())),
        Err(e @ AdminError::Signing(_)) => Err(ApiError::internal(Service::CertCentral, e.to_string())),
    }
}
