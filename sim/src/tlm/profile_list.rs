//! `GET /mpki/api/v2/profile` (the catalogue as this API key sees it) and
//! `GET /mpki/api/v2/profile/{id}` (one profile, as DigiCert's own clients read it).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::Value;

use crate::errors::ApiError;
use crate::state::AppState;
use crate::tlm::auth::authenticate;
use crate::tlm::paging::{parse_page, query_pairs};

/// The profiles this key may use, paged like the real list.
pub async fn profiles(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let page = parse_page(&query_pairs(raw.as_deref()))?;
    let visible: Vec<Value> = state
        .profiles
        .iter()
        .filter(|profile| grant.may_use(profile.id))
        .skip(page.offset)
        .take(page.limit)
        .map(|profile| profile.to_json())
        .collect();
    Ok(Json(Value::Array(visible)))
}

/// One profile. An unknown id is 403 like a profile the key may not use: DigiCert's clients
/// observe 403, not 404, for a bad profile id.
pub async fn profile(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    state
        .profile(&id)
        .filter(|profile| grant.may_use(profile.id))
        .map(|profile| Json(profile.to_json()))
        .ok_or_else(|| ApiError::access_denied(format!("no access to profile {id}")))
}
