//! DigiCert Trust Lifecycle Manager: `/mpki/api/...`, as the published spec shapes it.

mod attributes;
pub mod auth;
mod bodies;
mod certificate;
mod enroll;
mod fields;
pub mod issue;
mod lookup;
mod order;
mod paging;
mod pickup;
mod profile_list;
mod renew;
mod search;
pub mod store;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};

use crate::state::AppState;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/mpki/api/v1/hello", get(hello))
        .route("/mpki/api/v2/profile", get(profile_list::profiles))
        .route("/mpki/api/v2/profile/{id}", get(profile_list::profile))
        .route("/mpki/api/v1/certificate", post(enroll::submit))
        .route("/mpki/api/v1/certificate/{serial}", get(certificate::status))
        .route(
            "/mpki/api/v1/certificate/{serial}/additional-formats",
            get(certificate::additional_formats),
        )
        .route("/mpki/api/v1/certificate/{serial}/renew", post(renew::renew))
        .route(
            "/mpki/api/v1/certificate/{serial}/revoke",
            put(certificate::revoke),
        )
        .route(
            "/mpki/api/v1/certificate-pickup/{request_id}",
            post(pickup::pickup),
        )
        .route("/mpki/api/v1/certificate-search", get(search::search))
}

/// Liveness without side effects or auth, as the real service offers.
async fn hello() -> &'static str {
    "hello"
}
