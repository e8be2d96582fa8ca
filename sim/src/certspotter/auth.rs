//! Cert Spotter API tokens: `Authorization: Bearer TOKEN` or basic auth with the token as user.

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::state::AppState;

/// The token a request presents, if any (not checked against anything).
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, credentials) = value.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(credentials).ok()?).ok()?;
        let (user, _password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        return Some(user.to_string());
    }
    None
}

/// With no tokens configured every caller is let in (as Cert Spotter's unauthenticated tier);
/// otherwise the presented token must be one of them. Returns the caller's quota identity.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = presented_token(headers);
    let tokens = &state.options.certspotter_tokens;
    if tokens.is_empty() {
        return Ok(token.unwrap_or_default());
    }
    match token {
        Some(token) if tokens.contains(&token) => Ok(token),
        _ => Err(ApiError::new(
            Service::CertSpotter,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API token is required",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_bearer_and_basic() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_token(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer 123_abc"));
        assert_eq!(presented_token(&headers).as_deref(), Some("123_abc"));
        let basic = format!("Basic {}", STANDARD.encode("123_abc:"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&basic).expect("header"),
        );
        assert_eq!(presented_token(&headers).as_deref(), Some("123_abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(presented_token(&headers), None);
    }
}
