//! `X-DC-DEVKEY` authentication (as the CT monitor download checks it), the per-key rate limits,
//! and the Services API's error body.

use axum::http::{HeaderMap, StatusCode, header};

use crate::certcentral::DEVKEY_HEADER;
use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::{AppState, lock};

pub fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(Service::CertCentral, status, code, message)
}

pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
    error(StatusCode::BAD_REQUEST, code, message)
}

pub fn not_found(what: &'static str, message: impl Into<String>) -> ApiError {
    error(StatusCode::NOT_FOUND, what, message)
}

/// `404 not_found|order` for an order id the book does not hold.
pub fn order_not_found(id: u64) -> ApiError {
    not_found("not_found|order", format!("order {id} not found"))
}

/// The caller's `X-DC-DEVKEY`, if it is one of the configured keys (every Services API call).
pub fn known_key<'h>(state: &AppState, headers: &'h HeaderMap) -> Result<&'h str, ApiError> {
    let key = headers
        .get(DEVKEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if key.is_empty() || !state.options.certcentral_api_keys.iter().any(|k| k == key) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "a valid X-DC-DEVKEY is required",
        ));
    }
    Ok(key)
}

/// The caller's key, once it is known and within its rate limits.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let key = known_key(state, headers)?;
    let limits = &state.options.certcentral_rate_limits;
    if !lock(&state.certcentral_orders).rate.admit(key, limits) {
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            "request_limit_exceeded",
            "Service unavailable, please limit request volume",
        ));
    }
    Ok(key.to_string())
}

/// Bodies are JSON: the reference also allows XML, which the sim does not speak.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type must be application/json, not {content_type:?}"),
        ))
    }
}

/// An order, certificate or note id in a path: a positive decimal number.
pub fn parse_id(what: &'static str, text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| not_found(what, format!("no such id {text:?}")))
}
