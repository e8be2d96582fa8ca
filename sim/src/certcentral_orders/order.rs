//! `POST /order/certificate/{product_name_id}` and `POST /order/certificate/{order_id}/reissue`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::{AppState, lock};

use super::auth::{authenticate, bad_request, not_found, order_not_found, parse_id, require_json};
use super::body::{OrderBody, ReissueBody, check_text, order_lifetime, parse, requested};
use super::sign::sign;
use super::store::{ApprovalRequest, CcCertificate, Order, OrderStatus, product};
use super::views::chain_json;

fn internal(error: anyhow::Error) -> ApiError {
    ApiError::internal(Service::CertCentral, error.to_string())
}

/// The answer to an order or reissue: the order id, its approval request, and the chain when
/// the certificate was issued at once.
fn placed(state: &AppState, order: &Order, request_id: u64) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), json!(order.id));
    let status = order
        .requests
        .iter()
        .find(|r| r.id == request_id)
        .map_or("approved", |r| r.status);
    body.insert("requests".into(), json!([{"id": request_id, "status": status}]));
    if order.status == OrderStatus::Issued
        && let Some(current) = order.current()
    {
        body.insert("certificate_id".into(), json!(current.id));
        body.insert(
            "certificate_chain".into(),
            chain_json(state, current, &order.requested.common_name),
        );
    }
    Value::Object(body)
}

pub async fn place_order(
    State(state): State<Arc<AppState>>,
    Path(product_name_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authenticate(&state, &headers)?;
    require_json(&headers)?;
    let product = product(&product_name_id)
        .ok_or_else(|| not_found("not_found|product", format!("no product {product_name_id:?}")))?;
    let body: OrderBody = parse(&body)?;
    let organization_id = body.organization.as_ref().map(|o| o.id);
    match organization_id {
        Some(0) => {
            return Err(bad_request(
                "invalid_organization",
                "organization.id must be positive",
            ));
        }
        None if product.needs_organization => {
            return Err(bad_request(
                "invalid_organization",
                format!("{product_name_id} needs organization.id"),
            ));
        }
        _ => {}
    }
    let container_id = match &body.container {
        Some(container) if container.id <= 0 => {
            return Err(bad_request("invalid_container", "container.id must be positive"));
        }
        Some(container) => Some(container.id as u64),
        None => None,
    };
    if let Some(comments) = &body.comments {
        check_text("comments", comments)?;
    }
    let lifetime = order_lifetime(&body)?;
    let requested = requested(&body.certificate, None, lifetime)?;
    let requested_key = requested.leaf.spki_sha256.clone();
    let skip_approval = body.skip_approval.unwrap_or(false);
    let issue_now = skip_approval && !state.options.certcentral_pending_validation;
    let issued = if issue_now {
        Some(sign(&state, &requested).map_err(internal)?)
    } else {
        None
    };
    let now = OffsetDateTime::now_utc();
    let mut book = lock(&state.certcentral_orders);
    let id = book.fresh_id();
    let request_id = book.fresh_id();
    let mut certificates = Vec::new();
    if let Some(issued) = issued {
        certificates.push(CcCertificate {
            id: book.fresh_id(),
            issued: Arc::new(issued),
            revoked: false,
            date_created: now,
        });
    }
    let status = match (skip_approval, issue_now) {
        (false, _) => OrderStatus::NeedsApproval,
        (true, false) => OrderStatus::Pending,
        (true, true) => OrderStatus::Issued,
    };
    let order = Order {
        id,
        product,
        organization_id,
        container_id,
        comments: body.comments.clone(),
        date_created: now,
        status,
        requested,
        reissue: None,
        requests: vec![ApprovalRequest {
            id: request_id,
            status: if skip_approval { "approved" } else { "pending" },
        }],
        certificates,
        notes: Vec::new(),
        pending_revoke: None,
        polls: 0,
    };
    let answer = placed(&state, &order, request_id);
    book.orders.push(order);
    drop(book);
    lock(&state.counters).order(&requested_key);
    Ok((StatusCode::CREATED, Json(answer)))
}

pub async fn reissue(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authenticate(&state, &headers)?;
    require_json(&headers)?;
    let id = parse_id("not_found|order", &id)?;
    let body: ReissueBody = parse(&body)?;
    if let Some(comments) = &body.comments {
        check_text("comments", comments)?;
    }
    let previous = {
        let book = lock(&state.certcentral_orders);
        let order = book.order(id).ok_or_else(|| order_not_found(id))?;
        reissuable(order)?;
        order.requested.clone()
    };
    let lifetime = previous.leaf.validity;
    let requested = requested(&body.certificate, Some(&previous), lifetime)?;
    let requested_key = requested.leaf.spki_sha256.clone();
    let skip_approval = body.skip_approval.unwrap_or(false);
    let issue_now = skip_approval && !state.options.certcentral_pending_validation;
    let issued = if issue_now {
        Some(sign(&state, &requested).map_err(internal)?)
    } else {
        None
    };
    let mut book = lock(&state.certcentral_orders);
    let request_id = book.fresh_id();
    let certificate_id = book.fresh_id();
    let order = book.order_mut(id).ok_or_else(|| order_not_found(id))?;
    reissuable(order)?;
    order.requests.push(ApprovalRequest {
        id: request_id,
        status: if skip_approval { "approved" } else { "pending" },
    });
    match issued {
        Some(issued) => {
            order.requested = requested;
            order.certificates.push(CcCertificate {
                id: certificate_id,
                issued: Arc::new(issued),
                revoked: false,
                date_created: OffsetDateTime::now_utc(),
            });
        }
        None => {
            order.reissue = Some(requested);
            order.status = OrderStatus::ReissuePending;
            order.polls = 0;
        }
    }
    let answer = placed(&state, order, request_id);
    drop(book);
    lock(&state.counters).order(&requested_key);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Only issued orders can be reissued.
fn reissuable(order: &Order) -> Result<(), ApiError> {
    if order.status == OrderStatus::Issued {
        return Ok(());
    }
    Err(bad_request(
        "invalid_order_status",
        format!(
            "order {} is {}; only issued orders can be reissued",
            order.id,
            order.status.wire_name()
        ),
    ))
}
