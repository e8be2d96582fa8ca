//! `GET /certificate/{certificate_id}/download/format/{format}` and
//! `GET /certificate/download/order/{order_id}/format/{format}`: one PEM text, leaf first.
//! Only the PEM bundle formats are simulated (`pem_all`, `pem_noroot`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;
use crate::state::{AppState, lock};

use super::auth::{authenticate, bad_request, not_found, order_not_found, parse_id};
use super::store::CcCertificate;

fn bundle(state: &AppState, certificate: &CcCertificate, format: &str) -> Result<Response, ApiError> {
    let mut text = certificate.issued.pem.clone();
    text.push_str(&state.ca.intermediate.pem);
    match format {
        "pem_all" => text.push_str(&state.ca.root.pem),
        "pem_noroot" => {}
        "default" | "apache" | "default_cer" | "cer" | "p7b" | "default_pem" | "pem_nointermediate"
        | "nginx" | "der" | "pfx" => {
            return Err(bad_request(
                "invalid_format",
                format!("format {format:?} is not simulated by tlm-sim; use pem_all or pem_noroot"),
            ));
        }
        other => {
            return Err(bad_request("invalid_format", format!("unknown format {other:?}")));
        }
    }
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    Ok(response)
}

pub async fn by_certificate(
    State(state): State<Arc<AppState>>,
    Path((id, format)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &headers)?;
    let id = parse_id("not_found|certificate", &id)?;
    let certificate = {
        let book = lock(&state.certcentral_orders);
        book.order_of_certificate(id)
            .and_then(|order| order.certificates.iter().find(|c| c.id == id))
            .cloned()
            .ok_or_else(|| not_found("not_found|certificate", format!("certificate {id} not found")))?
    };
    bundle(&state, &certificate, &format)
}

pub async fn by_order(
    State(state): State<Arc<AppState>>,
    Path((id, format)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authenticate(&state, &headers)?;
    let id = parse_id("not_found|order", &id)?;
    let certificate = {
        let book = lock(&state.certcentral_orders);
        let order = book.order(id).ok_or_else(|| order_not_found(id))?;
        order.current().cloned().ok_or_else(|| {
            not_found(
                "not_found|certificate",
                format!("order {id} has no issued certificate"),
            )
        })?
    };
    bundle(&state, &certificate, &format)
}
