//! The answers fault rules serve instead of (or made from) the real ones.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;

use crate::endpoints::Service;
use crate::errors::ApiError;

/// What `malformed` faults serve instead of the real body: what a misbehaving proxy might send.
const GARBAGE_BODY: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>\u{0}{\"serial_number\":";

pub fn throttle_error(service: Service) -> ApiError {
    let code = match service {
        Service::Tlm => "rate_limit_exceeded",
        Service::CertSpotter => "rate_limited",
        Service::CertCentral => "request_limit_exceeded",
        Service::Qualys => "429",
    };
    ApiError::new(
        service,
        StatusCode::TOO_MANY_REQUESTS,
        code,
        "too many requests, retry later",
    )
}

pub fn injected_error(service: Service, status: u16) -> ApiError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::TOO_MANY_REQUESTS {
        // An injected 429 without Retry-After, as CertCentral sends them.
        return throttle_error(service);
    }
    ApiError::new(service, status, "internal_error", "injected fault")
}

/// The real answer with its body cut in half; Content-Length matches the cut body, so the
/// client sees a complete HTTP response whose payload does not parse.
pub async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(..bytes.len() / 2)))
}

/// The real status and headers, with garbage for a body.
pub fn malformed(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(GARBAGE_BODY))
}
