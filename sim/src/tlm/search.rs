//! `GET /mpki/api/v1/certificate-search`: issued certificates (never pending requests),
//! filtered by exact matches, in serial-number order. Serials are random, so the order has
//! nothing to do with age: a client that reads only the first page, or assumes newest first,
//! misses certificates.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::errors::ApiError;
use crate::state::{AppState, read};
use crate::tlm::auth::authenticate;
use crate::tlm::paging::{parse_page, query_pairs};
use crate::tlm::views::status_view;

/// The spec's status filter enum (items report the same words in lower case).
const STATUSES: [&str; 4] = ["ISSUED", "EXPIRED", "REVOKED", "SUSPENDED"];

#[derive(Debug, Default)]
struct SearchFilters {
    common_name: Option<String>,
    seat_id: Option<String>,
    profile_id: Option<String>,
    status: Option<String>,
    thumbprint: Option<String>,
    serial_number: Option<String>,
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let grant = authenticate(&state, &headers)?;
    let pairs = query_pairs(raw.as_deref());
    let page = parse_page(&pairs)?;
    let mut filters = SearchFilters::default();
    for (key, value) in pairs {
        let slot = match key.as_str() {
            "common_name" => &mut filters.common_name,
            "seat_id" => &mut filters.seat_id,
            "profile_id" => &mut filters.profile_id,
            "status" => &mut filters.status,
            "thumbprint" => &mut filters.thumbprint,
            "serial_number" => &mut filters.serial_number,
            _ => continue,
        };
        *slot = Some(value);
    }
    if let Some(status) = &filters.status
        && !STATUSES.iter().any(|known| known.eq_ignore_ascii_case(status))
    {
        return Err(ApiError::invalid_field(
            "status",
            format!("status must be one of {}", STATUSES.join(", ")),
        ));
    }
    let now = OffsetDateTime::now_utc();
    let store = read(&state.certificates);
    let mut hits: Vec<_> = store
        .certificates()
        .iter()
        .filter(|record| grant.may_use(record.profile_id))
        .filter(|record| {
            eq(&filters.common_name, record.issued.subject.common_name.as_deref())
                && eq(&filters.seat_id, Some(&record.seat_id))
                && eq(&filters.profile_id, Some(record.profile_id))
                && eq_ignore_case(&filters.status, Some(record.status(now)))
                && eq_ignore_case(&filters.thumbprint, Some(&record.certificate.thumbprint))
                && eq_ignore_case(&filters.serial_number, Some(&record.serial))
        })
        .collect();
    hits.sort_by(|a, b| (&a.serial, &a.certificate.thumbprint).cmp(&(&b.serial, &b.certificate.thumbprint)));
    let items: Vec<Value> = hits
        .iter()
        .skip(page.offset)
        .take(page.limit)
        .map(|record| status_view(&state, record, now))
        .collect();
    Ok(Json(
        json!({"total": hits.len(), "offset": page.offset, "limit": page.limit, "items": items}),
    ))
}

fn eq(filter: &Option<String>, value: Option<&str>) -> bool {
    filter.as_deref().is_none_or(|wanted| value == Some(wanted))
}

fn eq_ignore_case(filter: &Option<String>, value: Option<&str>) -> bool {
    filter
        .as_deref()
        .is_none_or(|wanted| value.is_some_and(|v| v.eq_ignore_ascii_case(wanted)))
}
