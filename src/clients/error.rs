//! Errors of the service clients (TLM, Cert Spotter, CertCentral), kept close to what the
//! service said and classified by what the caller should do about them.

use std::time::Duration;

use serde::Deserialize;

/// Longest service message kept: error text ends up in conditions and Events.
const MAX_MESSAGE_CHARS: usize = 300;

/// What a caller should do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later (timeouts, connection errors, 5xx, 429).
    Transient,
    /// The credentials are wrong or lack rights: fix the Issuer's Secret or the TLM role.
    Auth,
    /// The request is wrong: fix the spec or the profile.
    InvalidInput,
    /// The service refuses a duplicate.
    Conflict,
    /// The thing asked for does not exist.
    NotFound,
    /// The service answered something we cannot read.
    UnexpectedBody,
    /// The client itself is misconfigured (bad URL, bad CA bundle).
    Config,
}

/// A failed TLM call.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// The service answered with an error status (and maybe an error body).
    #[error("{service} {endpoint}: HTTP {status}{}", code_text(code.as_deref(), message.as_deref()))]
    Service {
        service: &'static str,
        endpoint: &'static str,
        status: u16,
        code: Option<String>,
        message: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("{service} {endpoint}: request timed out")]
    Timeout {
        service: &'static str,
        endpoint: &'static str,
    },
    #[error("{service} {endpoint}: cannot connect: {reason}")]
    Connect {
        service: &'static str,
        endpoint: &'static str,
        reason: String,
    },
    /// The request may or may not have reached the service (connection lost mid-way).
    #[error("{service} {endpoint}: connection lost before a response arrived: {reason}")]
    Interrupted {
        service: &'static str,
        endpoint: &'static str,
        reason: String,
    },
    #[error("{service} {endpoint}: unexpected response body: {reason}")]
    UnexpectedBody {
        service: &'static str,
        endpoint: &'static str,
        reason: String,
    },
    #[error("client configuration: {0}")]
    Config(String),
}

fn code_text(code: Option<&str>, message: Option<&str>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(" {c}: {m}"),
        (Some(c), None) => format!(" {c}"),
        (None, Some(m)) => format!(": {m}"),
        (None, None) => String::new(),
    }
}

impl ServiceError {
    pub fn class(&self) -> ErrorClass {
        match self {
            _ if self.is_rate_limited() => ErrorClass::Transient,
            ServiceError::Service { status, code, .. } => classify_service(*status, code.as_deref()),
            ServiceError::Timeout { .. }
            | ServiceError::Connect { .. }
            | ServiceError::Interrupted { .. } => ErrorClass::Transient,
            ServiceError::UnexpectedBody { .. } => ErrorClass::UnexpectedBody,
            ServiceError::Config(_) => ErrorClass::Config,
        }
    }

    /// How long the service asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ServiceError::Service { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The service's error code, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            ServiceError::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, if a response arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            ServiceError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A 429, or a 409 with a wait (Qualys blocks over-limit calls with 409 Conflict and
    /// `X-RateLimit-ToWait-Sec`).
    pub fn is_rate_limited(&self) -> bool {
        match self {
            ServiceError::Service { status: 429, .. } => true,
            ServiceError::Service {
                status: 409,
                retry_after,
                ..
            } => retry_after.is_some(),
            _ => false,
        }
    }

    /// True when the service certainly did not act on the request, so even a non-idempotent
    /// request (submit, renew) may be sent again.
    pub fn request_not_processed(&self) -> bool {
        matches!(self, ServiceError::Connect { .. }) || self.is_rate_limited()
    }

    /// TLM refuses to act on a serial several certificates share until `thumbprint_sha256`
    /// says which ("Collision occurred! Please specify additional parameter: thumbprint_sha256").
    pub fn is_serial_collision(&self) -> bool {
        match self {
            ServiceError::Service {
                status: 400 | 409,
                message: Some(m),
                ..
            } => m.to_ascii_lowercase().contains("thumbprint_sha256"),
            _ => false,
        }
    }

    /// A 403: the key may be fine but lack access to this profile or its business unit, or
    /// the profile may not exist (DigiCert ONE answers 403 for an unknown profile id).
    pub fn is_access_denied(&self) -> bool {
        self.status() == Some(403)
    }

    /// A short CamelCase reason for conditions, Events and metrics.
    pub fn reason(&self) -> &'static str {
        match self.class() {
            ErrorClass::Transient if self.is_rate_limited() => "RateLimited",
            ErrorClass::Transient => "TLMUnavailable",
            ErrorClass::Auth if self.status() == Some(403) => "AccessDenied",
            ErrorClass::Auth => "Unauthorized",
            ErrorClass::InvalidInput => "InvalidRequest",
            ErrorClass::Conflict => "Duplicate",
            ErrorClass::NotFound => "NotFound",
            ErrorClass::UnexpectedBody => "UnexpectedResponse",
            ErrorClass::Config => "InvalidConfiguration",
        }
    }
}

fn classify_service(status: u16, code: Option<&str>) -> ErrorClass {
    match code.map(str::to_ascii_lowercase).as_deref() {
        // The spec's codes (DigiCert ONE error handling page) and the tutorial's spellings.
        Some("invalid_api_key" | "authorization_error" | "no_access" | "access_denied") => {
            return ErrorClass::Auth;
        }
        Some("invalid_request" | "invalid_input_field") => return ErrorClass::InvalidInput,
        Some("duplicate_error") => return ErrorClass::Conflict,
        Some("resource_not_found" | "not_found" | "entity_not_found") => return ErrorClass::NotFound,
        _ => {}
    }
    match status {
        401 | 403 => ErrorClass::Auth,
        404 => ErrorClass::NotFound,
        409 => ErrorClass::Conflict,
        408 | 425 | 429 => ErrorClass::Transient,
        500..=599 => ErrorClass::Transient,
        _ => ErrorClass::InvalidInput,
    }
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// TLM's tutorial and CertCentral show `{"errors":[{code,message}]}`, TLM's public OpenAPI text
/// `{"error":{code,message}}`, Cert Spotter a bare `{code,message}`: accept all three.
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
    #[serde(default)]
    error: Option<ErrorEntry>,
    #[serde(flatten)]
    bare: ErrorEntry,
}

/// Code and message of an error body, if it is one we recognise.
pub fn parse_error_body(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) else {
        return (None, None);
    };
    let bare = (parsed.bare.code.is_some() || parsed.bare.message.is_some()).then_some(parsed.bare);
    let entry = parsed.errors.into_iter().next().or(parsed.error).or(bare);
    match entry {
        Some(e) => (
            e.code.map(|c| truncate(&c, 64)),
            e.message.map(|m| truncate(&m, MAX_MESSAGE_CHARS)),
        ),
        None => (None, None),
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: u16, code: Option<&str>) -> ServiceError {
        ServiceError::Service {
            service: "TLM",
            endpoint: "submit",
            status,
            code: code.map(Into::into),
            message: None,
            retry_after: None,
        }
    }

    #[test]
    fn classification_follows_codes_then_status() {
        assert_eq!(
            service(401, Some("AUTHORIZATION_ERROR")).class(),
            ErrorClass::Auth
        );
        assert_eq!(service(403, Some("no_access")).class(), ErrorClass::Auth);
        assert_eq!(
            service(400, Some("invalid_input_field")).class(),
            ErrorClass::InvalidInput
        );
        assert_eq!(
            service(400, Some("duplicate_error")).class(),
            ErrorClass::Conflict
        );
        assert_eq!(service(503, None).class(), ErrorClass::Transient);
        assert_eq!(service(429, None).class(), ErrorClass::Transient);
        assert_eq!(service(429, None).reason(), "RateLimited");
        assert_eq!(service(418, None).class(), ErrorClass::InvalidInput);
        assert_eq!(service(401, Some("invalid_api_key")).class(), ErrorClass::Auth);
        assert_eq!(service(403, Some("access_denied")).reason(), "AccessDenied");
        assert_eq!(
            service(400, Some("invalid_request")).class(),
            ErrorClass::InvalidInput
        );
        assert_eq!(
            service(404, Some("resource_not_found")).class(),
            ErrorClass::NotFound
        );
        assert!(service(429, None).request_not_processed());
        assert!(!service(503, None).request_not_processed());
    }

    #[test]
    fn serial_collisions_are_recognised_by_their_message() {
        let collision = ServiceError::Service {
            service: "TLM",
            endpoint: "revoke",
            status: 400,
            code: Some("invalid_input_field".into()),
            message: Some(
                "Collision occurred! Please specify additional parameter: thumbprint_sha256".into(),
            ),
            retry_after: None,
        };
        assert!(collision.is_serial_collision());
        assert!(!service(400, Some("invalid_input_field")).is_serial_collision());
    }

    #[test]
    fn both_error_shapes_parse() {
        let (c, m) =
            parse_error_body(br#"{"errors":[{"code":"no_access","message":"Not enough permissions"}]}"#);
        assert_eq!(
            (c.as_deref(), m.as_deref()),
            (Some("no_access"), Some("Not enough permissions"))
        );
        let (c, m) = parse_error_body(br#"{"error":{"code":"invalid_input_field","message":"bad"}}"#);
        assert_eq!(
            (c.as_deref(), m.as_deref()),
            (Some("invalid_input_field"), Some("bad"))
        );
        let (c, m) = parse_error_body(br#"{"code":"rate_limited","message":"slow down"}"#);
        assert_eq!(
            (c.as_deref(), m.as_deref()),
            (Some("rate_limited"), Some("slow down"))
        );
        assert_eq!(parse_error_body(b"<html>"), (None, None));
        assert_eq!(parse_error_body(br#"{"errors":[]}"#), (None, None));
    }

    #[test]
    fn long_messages_are_cut() {
        let body = format!(
            r#"{{"errors":[{{"code":"x","message":"{}"}}]}}"#,
            "a".repeat(5000)
        );
        let (_, m) = parse_error_body(body.as_bytes());
        assert_eq!(m.unwrap().chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn display_names_endpoint_status_and_code() {
        let e = ServiceError::Service {
            service: "TLM",
            endpoint: "submit",
            status: 403,
            code: Some("no_access".into()),
            message: Some("Not enough permissions".into()),
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "TLM submit: HTTP 403 no_access: Not enough permissions"
        );
    }
}
