//! DigiCert CertCentral CT monitor: download a CT-logged certificate by serial number.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::{AppState, read};

pub const DEVKEY_HEADER: &str = "x-dc-devkey";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/services/v2/ctmonitor/{order_id}/ct-cert/{serial}",
            get(download_ct_cert),
        )
        .route(
            "/services/v2/ctmonitor/{order_id}/ct-cert/{serial}/",
            get(download_ct_cert),
        )
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(Service::CertCentral, status, code, message)
}

async fn download_ct_cert(
    State(state): State<Arc<AppState>>,
    Path((_order_id, serial)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::certcentral_orders::auth::known_key(&state, &headers)?;
    let issuer = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(name, value)| name == "issuer" && !value.trim().is_empty())
        .map(|(_, value)| value.into_owned());
    let Some(issuer) = issuer else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_input",
            "the issuer query parameter is required",
        ));
    };
    // Strict on purpose: the serial exactly as CertCentral spells it, and the issuing CA's
    // common name exactly, so a client that sends TLM's spelling or a full DN is caught.
    let issuance = read(&state.feed)
        .find_by_serial(&serial)
        .filter(|issuance| issuance.issuer.common_name.as_deref() == Some(issuer.as_str()));
    match issuance.and_then(|issuance| issuance.cert.clone()) {
        Some(cert) => Ok(Json(json!({"pem": crate::pem::encode("CERTIFICATE", &cert.der)}))),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no CT-logged certificate with serial {serial} from issuer {issuer:?}"),
        )),
    }
}
