//! SSLMate Cert Spotter API v1: `GET /v1/issuances`.

pub mod auth;
pub mod feed;
pub mod injection;
pub mod query;
pub mod quota;

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::{AppState, lock, read};
use query::IssuanceQuery;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/issuances", get(issuances))
}

async fn issuances(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = auth::authenticate(&state, &headers)?;
    let query = IssuanceQuery::parse(raw.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::new(Service::CertSpotter, StatusCode::BAD_REQUEST, e.code, e.message))?;
    if let Some(per_hour) = state.options.certspotter_quota_per_hour
        && let Err(wait) = lock(&state.quota).take(&caller, per_hour)
    {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Err(ApiError::new(
            Service::CertSpotter,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("hourly quota of {per_hour} queries exceeded"),
        )
        .with_retry_after(HeaderValue::from(seconds.max(1))));
    }
    let page: Vec<Value> = read(&state.feed)
        .after(query.after)
        .iter()
        .filter(|issuance| query.matches_any(&issuance.dns_names))
        .take(state.options.certspotter_page_size.max(1))
        .map(|issuance| issuance.to_json(query.expand))
        .collect();
    lock(&state.counters).certspotter_query(&query.domains);
    let empty = page.is_empty();
    let mut response = Json(Value::Array(page)).into_response();
    if empty {
        let retry_after = state.options.certspotter_empty_retry_after.as_secs();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    }
    Ok(response)
}
