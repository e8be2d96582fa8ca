//! `GET /mpki/api/v2/profile`: the profile catalogue as this API key sees it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
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
