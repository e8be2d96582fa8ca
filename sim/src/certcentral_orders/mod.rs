//! DigiCert CertCentral Services API v2 certificate orders: order, order info, list, notes,
//! download, reissue and revoke, as `docs/certcentral-wire.md` records them. The CT monitor
//! download stays in `crate::certcentral`.
//!
//! Orders placed without `skip_approval` wait in `needs_approval`; with it they are issued at
//! once, or wait in `pending` (validation) when `certcentral_pending_validation` is set, until an
//! admin issues them or `certcentral_issue_after_polls` order-info polls have passed.

pub mod admin;
pub(crate) mod auth;
mod body;
mod download;
mod list;
mod notes;
mod order;
mod rate;
mod revoke;
mod sign;
mod store;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::routing::{get, post, put};

use crate::endpoints::Endpoint;
use crate::state::AppState;

pub use store::OrderBook;
pub use store::OrderStatus;

const BASE: &str = "/services/v2";

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let api = Router::new()
        .route(&format!("{BASE}/order/certificate"), get(list::list_orders))
        .route(
            &format!("{BASE}/order/certificate/{{id}}"),
            post(order::place_order).get(views::order_info),
        )
        .route(
            &format!("{BASE}/order/certificate/{{id}}/note"),
            post(notes::add_note).get(notes::list_notes),
        )
        .route(
            &format!("{BASE}/order/certificate/{{id}}/reissue"),
            post(order::reissue),
        )
        .route(
            &format!("{BASE}/certificate/{{id}}/download/format/{{format}}"),
            get(download::by_certificate),
        )
        .route(
            &format!("{BASE}/certificate/download/order/{{id}}/format/{{format}}"),
            get(download::by_order),
        )
        .route(&format!("{BASE}/certificate/{{id}}/revoke"), put(revoke::revoke));
    api.merge(admin::routes(state))
}

/// The endpoint a CertCentral order request is for, by method and path segments.
pub fn classify(method: &Method, segments: &[&str]) -> Option<Endpoint> {
    let ["services", "v2", rest @ ..] = segments else {
        return None;
    };
    let endpoint = match (method.as_str(), rest) {
        ("GET", ["order", "certificate"]) => Endpoint::CcOrders,
        ("POST", ["order", "certificate", product]) if !product.is_empty() => Endpoint::CcOrder,
        ("GET", ["order", "certificate", id]) if !id.is_empty() => Endpoint::CcOrderInfo,
        ("GET" | "POST", ["order", "certificate", id, "note"]) if !id.is_empty() => Endpoint::CcNote,
        ("POST", ["order", "certificate", id, "reissue"]) if !id.is_empty() => Endpoint::CcReissue,
        ("GET", ["certificate", id, "download", "format", format])
            if !id.is_empty() && !format.is_empty() =>
        {
            Endpoint::CcDownload
        }
        ("GET", ["certificate", "download", "order", id, "format", format])
            if !id.is_empty() && !format.is_empty() =>
        {
            Endpoint::CcDownload
        }
        ("PUT", ["certificate", id, "revoke"]) if !id.is_empty() => Endpoint::CcRevoke,
        _ => return None,
    };
    Some(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_order_routes_by_method() {
        let split = |p: &'static str| p.trim_start_matches('/').split('/').collect::<Vec<_>>();
        let cases = [
            (
                Method::GET,
                "/services/v2/order/certificate",
                Some(Endpoint::CcOrders),
            ),
            (
                Method::POST,
                "/services/v2/order/certificate/ssl_basic",
                Some(Endpoint::CcOrder),
            ),
            (
                Method::GET,
                "/services/v2/order/certificate/12",
                Some(Endpoint::CcOrderInfo),
            ),
            (
                Method::POST,
                "/services/v2/order/certificate/12/note",
                Some(Endpoint::CcNote),
            ),
            (
                Method::POST,
                "/services/v2/order/certificate/12/reissue",
                Some(Endpoint::CcReissue),
            ),
            (
                Method::GET,
                "/services/v2/certificate/5/download/format/pem_all",
                Some(Endpoint::CcDownload),
            ),
            (
                Method::GET,
                "/services/v2/certificate/download/order/12/format/pem_all",
                Some(Endpoint::CcDownload),
            ),
            (
                Method::PUT,
                "/services/v2/certificate/5/revoke",
                Some(Endpoint::CcRevoke),
            ),
            (Method::DELETE, "/services/v2/order/certificate/12", None),
            (Method::GET, "/services/v2/ctmonitor/1/ct-cert/AB", None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(classify(&method, &split(path)), expected, "{method} {path}");
        }
    }
}
