//! TLM API-key authentication (`x-api-key`) and per-profile authorisation, with the codes of
//! DigiCert ONE's error page: 401 `invalid_api_key`, 403 `access_denied`.

use axum::http::{HeaderMap, StatusCode};

use crate::errors::ApiError;
use crate::options::ApiKeyGrant;
use crate::state::AppState;

pub const API_KEY_HEADER: &str = "x-api-key";

fn invalid_api_key(message: &str) -> ApiError {
    ApiError::tlm(StatusCode::UNAUTHORIZED, "invalid_api_key", message)
}

pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<ApiKeyGrant, ApiError> {
    let Some(value) = headers.get(API_KEY_HEADER) else {
        return Err(invalid_api_key("No authentication data provided"));
    };
    let key = value.to_str().unwrap_or_default();
    state
        .api_keys
        .get(key)
        .cloned()
        .ok_or_else(|| invalid_api_key("Invalid API key"))
}

pub fn authorize(grant: &ApiKeyGrant, profile_id: &str) -> Result<(), ApiError> {
    if grant.may_use(profile_id) {
        Ok(())
    } else {
        Err(ApiError::access_denied("Not enough permissions"))
    }
}
