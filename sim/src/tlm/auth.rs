//! TLM API-key authentication (`x-api-key`) and per-profile authorisation.

use axum::http::{HeaderMap, StatusCode};

use crate::errors::ApiError;
use crate::options::ApiKeyGrant;
use crate::state::AppState;

pub const API_KEY_HEADER: &str = "x-api-key";

pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<ApiKeyGrant, ApiError> {
    let Some(value) = headers.get(API_KEY_HEADER) else {
        return Err(ApiError::tlm(
            StatusCode::UNAUTHORIZED,
            "AUTHORIZATION_ERROR",
            "No authentication data provided",
        ));
    };
    let key = value.to_str().unwrap_or_default();
    state
        .api_keys
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::tlm(StatusCode::UNAUTHORIZED, "AUTHORIZATION_ERROR", "Invalid API key"))
}

pub fn authorize(grant: &ApiKeyGrant, profile_id: &str) -> Result<(), ApiError> {
    if grant.may_use(profile_id) {
        Ok(())
    } else {
        Err(ApiError::tlm(
            StatusCode::FORBIDDEN,
            "no_access",
            "Not enough permissions",
        ))
    }
}
