//! Order info (`GET /order/certificate/{order_id}`) and the JSON shapes answers share.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::{AppState, lock};

use super::auth::{authenticate, order_not_found, parse_id};
use super::sign::complete;
use super::store::{CcCertificate, Note, Order, OrderStatus};

/// `2018-10-16T20:05:28+00:00`, as the reference's examples write dates.
pub fn timestamp(at: OffsetDateTime) -> String {
    let format = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
    );
    at.format(&format).unwrap_or_default()
}

fn day(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]");
    at.format(&format).unwrap_or_default()
}

pub fn note_json(note: &Note) -> Value {
    json!({
        "id": note.id,
        "date_created": timestamp(note.date_created),
        "text": note.text,
        "user": {"id": 1, "first_name": "tlm-sim", "last_name": "API", "email": "api@tlm-sim.invalid"},
    })
}

/// `certificate_chain`: the leaf, the intermediate and the root, each `{subject_common_name, pem}`.
pub fn chain_json(state: &AppState, certificate: &CcCertificate, common_name: &str) -> Value {
    json!([
        {"subject_common_name": common_name, "pem": certificate.issued.pem},
        {"subject_common_name": state.ca.intermediate.common_name, "pem": state.ca.intermediate.pem},
        {"subject_common_name": state.ca.root.common_name, "pem": state.ca.root.pem},
    ])
}

/// The `certificate` object of order info and list answers.
fn certificate_json(state: &AppState, order: &Order, full: bool) -> Value {
    let requested = &order.requested;
    let mut certificate = Map::new();
    certificate.insert("common_name".into(), json!(requested.common_name));
    certificate.insert("dns_names".into(), json!(requested.dns_names));
    certificate.insert("signature_hash".into(), json!("sha256"));
    if let Some(current) = order.current() {
        let issued = &current.issued;
        certificate.insert("id".into(), json!(current.id));
        certificate.insert("valid_till".into(), json!(day(issued.not_after)));
        let days = (issued.not_after - OffsetDateTime::now_utc()).whole_days().max(0);
        certificate.insert("days_remaining".into(), json!(days));
        if full {
            certificate.insert("thumbprint".into(), json!(issued.thumbprint));
            certificate.insert("serial_number".into(), json!(issued.serial_hex));
            certificate.insert("valid_from".into(), json!(day(issued.not_before)));
            certificate.insert("date_issued".into(), json!(timestamp(current.date_created)));
        }
    }
    if full {
        certificate.insert("date_created".into(), json!(timestamp(order.date_created)));
        certificate.insert("csr".into(), json!(requested.csr));
        certificate.insert("key_size".into(), json!(requested.leaf.key.size_bits()));
        if let Some(id) = order.organization_id {
            certificate.insert("organization".into(), json!({"id": id}));
        }
        certificate.insert(
            "ca_cert".into(),
            json!({"id": "tlm-sim-intermediate", "name": state.ca.intermediate.common_name}),
        );
    }
    Value::Object(certificate)
}

/// An order as list answers show it (`full`: as order info shows it).
pub fn order_json(state: &AppState, order: &Order, full: bool) -> Value {
    let mut body = Map::new();
    body.insert("id".into(), json!(order.id));
    body.insert("certificate".into(), certificate_json(state, order, full));
    body.insert("status".into(), json!(order.status.wire_name()));
    body.insert("is_renewed".into(), json!(false));
    body.insert("date_created".into(), json!(timestamp(order.date_created)));
    if let Some(id) = order.organization_id {
        body.insert(
            "organization".into(),
            json!({"id": id, "name": format!("tlm-sim organization {id}")}),
        );
    }
    if let Some(id) = order.container_id {
        body.insert(
            "container".into(),
            json!({"id": id, "name": format!("tlm-sim container {id}")}),
        );
    }
    let product = order.product;
    body.insert(
        "product".into(),
        json!({"name_id": product.name_id, "name": product.name, "type": product.kind}),
    );
    body.insert("product_name_id".into(), json!(product.name_id));
    if full {
        let requests: Vec<Value> = order
            .requests
            .iter()
            .map(|r| json!({"id": r.id, "status": r.status}))
            .collect();
        body.insert("requests".into(), json!(requests));
        body.insert(
            "notes".into(),
            json!(order.notes.iter().map(note_json).collect::<Vec<_>>()),
        );
        if let Some(comments) = &order.comments {
            body.insert("comments".into(), json!(comments));
        }
    }
    Value::Object(body)
}

pub async fn order_info(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers)?;
    let id = parse_id("not_found|order", &id)?;
    let issue_now = {
        let mut book = lock(&state.certcentral_orders);
        let order = book.order_mut(id).ok_or_else(|| order_not_found(id))?;
        let waiting = matches!(order.status, OrderStatus::Pending | OrderStatus::ReissuePending)
            && order.requests.iter().all(|r| r.status != "pending");
        if waiting {
            order.polls += 1;
        }
        waiting
            && state
                .options
                .certcentral_issue_after_polls
                .is_some_and(|polls| order.polls > polls)
    };
    if issue_now {
        complete(&state, id).map_err(|e| ApiError::internal(Service::CertCentral, e.to_string()))?;
    }
    let book = lock(&state.certcentral_orders);
    let order = book.order(id).ok_or_else(|| order_not_found(id))?;
    Ok(Json(order_json(&state, order, true)))
}
