//! Qualys CertView: the gateway's JWT `POST /auth` and the DigiCert enrollment requests under
//! `/certview/rest/public/v1/certificates/enrollment/digicert/orders`. `docs/qualys-wire.md`
//! records each field, where it comes from, and what is unverified.

pub mod admin;
mod auth;
mod checks;
mod enroll;
mod issue;
mod orders;
pub mod store;
mod times;
mod views;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::routing::{get, post, put};

use crate::endpoints::{Endpoint, Service};
use crate::errors::ApiError;
use crate::state::AppState;

pub use store::QualysBook;

/// Where the enrollment requests live (the view page's path).
pub const ORDERS_PATH: &str = "/certview/rest/public/v1/certificates/enrollment/digicert/orders";

/// How the simulated Qualys subscription behaves.
#[derive(Clone)]
pub struct QualysOptions {
    /// API users and their passwords (`POST /auth`).
    pub users: Vec<(String, String)>,
    /// User names that may be named in `approverUserNames` (managers, PKI admins, approvers).
    pub approvers: Vec<String>,
    /// DigiCert organization ids the subscription's CA key can order for.
    pub organization_ids: Vec<u64>,
    /// Lifetime of the JWTs `/auth` hands out (Qualys documents 4 hours).
    pub token_lifetime: Duration,
    /// New requests stay `SUBMITTED` until approved (admin endpoint, or an approver's status
    /// update); otherwise they are approved and issued at once.
    pub manual_approval: bool,
    /// Approved requests stay `APPROVED` (caStatus `pending`) until `/sim/qualys/.../issue`.
    pub manual_issuance: bool,
    /// Overrides every leaf's lifetime (the request's validity otherwise).
    pub leaf_lifetime: Option<Duration>,
}

impl Default for QualysOptions {
    fn default() -> Self {
        QualysOptions {
            users: vec![("test-qualys-user".into(), "test-qualys-password".into())],
            approvers: vec!["doe_john".into(), "test-qualys-user".into()],
            organization_ids: vec![525858],
            token_lifetime: Duration::from_secs(4 * 3600),
            manual_approval: false,
            manual_issuance: false,
            leaf_lifetime: None,
        }
    }
}

// Passwords are secrets: Debug output never shows them.
impl fmt::Debug for QualysOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(user, _)| user.as_str()).collect();
        f.debug_struct("QualysOptions")
            .field("users", &users)
            .field("approvers", &self.approvers)
            .field("organization_ids", &self.organization_ids)
            .field("token_lifetime", &self.token_lifetime)
            .field("manual_approval", &self.manual_approval)
            .field("manual_issuance", &self.manual_issuance)
            .field("leaf_lifetime", &self.leaf_lifetime)
            .finish()
    }
}

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let order = format!("{ORDERS_PATH}/{{uuid}}");
    Router::new()
        .route("/auth", post(auth::issue_token))
        .route(ORDERS_PATH, post(enroll::create))
        .route(&order, get(orders::view))
        .route(&format!("{order}/status"), put(orders::update_status))
        .route(&format!("{order}/certificate"), get(orders::download))
        .merge(admin::routes(state))
}

/// Who a throttle window applies to: the bearer token (empty for `/auth`).
pub fn caller_identity(headers: &axum::http::HeaderMap) -> String {
    auth::bearer(headers).unwrap_or_default()
}

/// The endpoint a request is for, if it is a Qualys one (`None` also for a wrong method).
pub fn classify(method: &Method, segments: &[&str]) -> Option<Endpoint> {
    let endpoint = match segments {
        ["auth"] => Endpoint::QualysAuth,
        [
            "certview",
            "rest",
            "public",
            "v1",
            "certificates",
            "enrollment",
            "digicert",
            "orders",
        ] => Endpoint::QualysEnroll,
        [
            "certview",
            "rest",
            "public",
            "v1",
            "certificates",
            "enrollment",
            "digicert",
            "orders",
            uuid,
            rest @ ..,
        ] if !uuid.is_empty() => match rest {
            [] => Endpoint::QualysView,
            ["status"] => Endpoint::QualysStatus,
            ["certificate"] => Endpoint::QualysDownload,
            _ => return None,
        },
        _ => return None,
    };
    let expected = match endpoint {
        Endpoint::QualysAuth | Endpoint::QualysEnroll => Method::POST,
        Endpoint::QualysStatus => Method::PUT,
        _ => Method::GET,
    };
    (*method == expected).then_some(endpoint)
}

/// An error in the shape the sim serves for Qualys (`{"code","message"}`; the real gateway's
/// error body is unverified, see `docs/qualys-wire.md`). `code` is Qualys' numeric error code
/// where its Appendix A lists one.
pub fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(Service::Qualys, status, code, message)
}

/// 400 1903: a required parameter is missing.
pub fn missing(parameter: &str) -> ApiError {
    error(
        StatusCode::BAD_REQUEST,
        "1903",
        format!("Missing required parameter(s): {parameter}"),
    )
}

/// 400 1905: a parameter has an invalid value.
pub fn invalid(parameter: &str, why: impl fmt::Display) -> ApiError {
    error(
        StatusCode::BAD_REQUEST,
        "1905",
        format!("parameter {parameter} has invalid value: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Vec<&str> {
        path.trim_start_matches('/').split('/').collect()
    }

    #[test]
    fn classifies_qualys_routes() {
        let order = format!("{ORDERS_PATH}/cb95d100-ec30");
        let cases = [
            (Method::POST, "/auth".to_string(), Some(Endpoint::QualysAuth)),
            (Method::GET, "/auth".to_string(), None),
            (
                Method::POST,
                ORDERS_PATH.to_string(),
                Some(Endpoint::QualysEnroll),
            ),
            (Method::GET, order.clone(), Some(Endpoint::QualysView)),
            (
                Method::PUT,
                format!("{order}/status"),
                Some(Endpoint::QualysStatus),
            ),
            (
                Method::GET,
                format!("{order}/certificate"),
                Some(Endpoint::QualysDownload),
            ),
            (Method::GET, format!("{order}/other"), None),
            (Method::DELETE, order, None),
            (Method::GET, "/mpki/api/v1/hello".to_string(), None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(classify(&method, &segments(&path)), expected, "{method} {path}");
        }
    }

    #[test]
    fn debug_never_shows_passwords() {
        let shown = format!("{:?}", QualysOptions::default());
        assert!(shown.contains("test-qualys-user"));
        assert!(!shown.contains("test-qualys-password"));
    }
}
