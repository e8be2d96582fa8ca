//! Error responses in each simulated service's own shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::endpoints::Service;

/// An error answer. TLM and CertCentral wrap errors as `{"errors":[{"code","message"}]}` (TLM
/// adds `field` when one input field is to blame); Cert Spotter answers a bare `{"code","message"}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub service: Service,
    pub retry_after: Option<HeaderValue>,
}

impl ApiError {
    pub fn new(service: Service, status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            service,
            retry_after: None,
        }
    }

    pub fn tlm(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Service::Tlm, status, code, message)
    }

    /// The body as a whole is unusable: not JSON, not an object, or missing.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::tlm(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// A value is wrong, but no single field can be named.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::tlm(StatusCode::BAD_REQUEST, "invalid_input_field", message)
    }

    /// `field` (a dotted path such as `attributes.subject.country`) is wrong.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_input(message).with_field(field)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::tlm(StatusCode::FORBIDDEN, "access_denied", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::tlm(StatusCode::NOT_FOUND, "resource_not_found", message)
    }

    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::tlm(StatusCode::CONFLICT, "invalid_state", message)
    }

    pub fn internal(service: Service, message: impl Into<String>) -> Self {
        Self::new(
            service,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            message,
        )
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_retry_after(mut self, value: HeaderValue) -> Self {
        self.retry_after = Some(value);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.service {
            Service::Tlm | Service::CertCentral => {
                let mut error = Map::new();
                error.insert("code".into(), json!(self.code));
                error.insert("message".into(), json!(self.message));
                if let Some(field) = self.field {
                    error.insert("field".into(), json!(field));
                }
                json!({"errors": [Value::Object(error)]})
            }
            Service::CertSpotter | Service::Qualys => json!({"code": self.code, "message": self.message}),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(retry_after) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, retry_after);
        }
        response
    }
}
