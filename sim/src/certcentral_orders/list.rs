//! `GET /order/certificate`: `filters[...]`, `sort`, `offset`, `limit` and a `page` object.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::state::{AppState, lock};

use super::auth::{authenticate, bad_request};
use super::store::{Order, OrderStatus};
use super::views::order_json;

const MAX_LIMIT: usize = 1000;
/// `filters[status]` values the list-orders page names.
const STATUS_FILTERS: &[&str] = &[
    "pending",
    "issued",
    "rejected",
    "revoked",
    "waiting_pickup",
    "reissue_pending",
    "canceled",
];
/// Documented filters the sim does not evaluate: refused rather than silently ignored.
const UNIMPLEMENTED_FILTERS: &[&str] = &[
    "valid_till",
    "user_id",
    "date_created",
    "metadata_id",
    "is_renewed",
    "disable_renewal_notifications",
    "email",
    "origin",
    "search",
];
const SORTABLE: &[&str] = &["id", "date_created", "common_name", "status", "product_name_id"];

#[derive(Default)]
struct Query {
    filters: Vec<(String, String)>,
    sort: Vec<(String, bool)>,
    offset: usize,
    limit: usize,
}

fn parse_query(raw: &str) -> Result<Query, ApiError> {
    let mut query = Query {
        limit: MAX_LIMIT,
        ..Query::default()
    };
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        let number = |what: &str| {
            value
                .parse::<usize>()
                .map_err(|_| bad_request("invalid_input", format!("{what} must be a non-negative integer")))
        };
        if let Some(filter) = name.strip_prefix("filters[").and_then(|f| f.strip_suffix(']')) {
            check_filter(filter, &value)?;
            query.filters.push((filter.to_string(), value.into_owned()));
        } else if name == "sort" {
            for part in value.split(',') {
                let (property, descending) = match part.strip_prefix('-') {
                    Some(p) => (p, true),
                    None => (part.strip_prefix('+').unwrap_or(part), false),
                };
                if !SORTABLE.contains(&property) {
                    return Err(bad_request(
                        "invalid_sort",
                        format!("cannot sort by {property:?}"),
                    ));
                }
                query.sort.push((property.to_string(), descending));
            }
        } else if name == "offset" {
            query.offset = number("offset")?;
        } else if name == "limit" {
            query.limit = number("limit")?;
            if !(1..=MAX_LIMIT).contains(&query.limit) {
                return Err(bad_request(
                    "invalid_input",
                    format!("limit must be 1 to {MAX_LIMIT}"),
                ));
            }
        } else {
            return Err(bad_request(
                "invalid_input",
                format!("unknown query parameter {name:?}"),
            ));
        }
    }
    Ok(query)
}

fn check_filter(filter: &str, value: &str) -> Result<(), ApiError> {
    if UNIMPLEMENTED_FILTERS.contains(&filter) {
        return Err(bad_request(
            "invalid_filter",
            format!("filters[{filter}] is not simulated by tlm-sim"),
        ));
    }
    let numeric = ["id", "organization_id", "container_id", "certificate_id"];
    let ok = match filter {
        "status" => STATUS_FILTERS.contains(&value),
        f if numeric.contains(&f) => value.parse::<u64>().is_ok(),
        "common_name" | "domain_name" | "product_name_id" | "serial_number" => !value.is_empty(),
        _ => {
            return Err(bad_request(
                "invalid_filter",
                format!("unknown filter {filter:?}"),
            ));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(bad_request(
            "invalid_filter",
            format!("filters[{filter}]={value:?} is not valid"),
        ))
    }
}

fn matches(order: &Order, filter: &str, value: &str) -> bool {
    let number = value.parse::<u64>().ok();
    let requested = &order.requested;
    match filter {
        "id" => number == Some(order.id),
        "status" => match value {
            // An order waiting for approval is pending too (sim assumption, see the wire doc).
            "pending" => matches!(order.status, OrderStatus::Pending | OrderStatus::NeedsApproval),
            other => order.status.wire_name() == other,
        },
        "common_name" => requested.common_name.eq_ignore_ascii_case(value),
        "domain_name" => std::iter::once(&requested.common_name)
            .chain(&requested.dns_names)
            .any(|n| n.eq_ignore_ascii_case(value)),
        "product_name_id" => order.product.name_id == value,
        "organization_id" => number.is_some() && order.organization_id == number,
        "container_id" => number.is_some() && order.container_id == number,
        "certificate_id" => order.certificates.iter().any(|c| Some(c.id) == number),
        "serial_number" => order
            .current()
            .is_some_and(|c| c.issued.serial_hex.eq_ignore_ascii_case(value)),
        _ => false,
    }
}

fn compare(a: &Order, b: &Order, property: &str) -> Ordering {
    match property {
        "date_created" => a.date_created.cmp(&b.date_created),
        "common_name" => a.requested.common_name.cmp(&b.requested.common_name),
        "status" => a.status.wire_name().cmp(b.status.wire_name()),
        "product_name_id" => a.product.name_id.cmp(b.product.name_id),
        _ => a.id.cmp(&b.id),
    }
}

pub async fn list_orders(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers)?;
    let query = parse_query(raw.as_deref().unwrap_or_default())?;
    let book = lock(&state.certcentral_orders);
    let mut selected: Vec<&Order> = book
        .orders
        .iter()
        .filter(|order| query.filters.iter().all(|(f, v)| matches(order, f, v)))
        .collect();
    selected.sort_by(|a, b| {
        for (property, descending) in &query.sort {
            let ordering = compare(a, b, property);
            let ordering = if *descending { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        // Orders created in the same second keep their creation order (ids grow).
        let by_id = a.id.cmp(&b.id);
        match query.sort.first() {
            Some((_, true)) => by_id.reverse(),
            _ => by_id,
        }
    });
    let total = selected.len();
    let orders: Vec<Value> = selected
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|order| order_json(&state, order, false))
        .collect();
    Ok(Json(json!({
        "orders": orders,
        "page": {"total": total, "limit": query.limit, "offset": query.offset},
    })))
}
