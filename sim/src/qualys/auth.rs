//! `POST /auth`: a form with `username`, `password` and `token=true` answers `201` with a bare
//! JWT (Qualys' authentication pages). Every CertView call then carries
//! `Authorization: Bearer <jwt>`; an unknown or expired token is a 401.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::json;
use time::OffsetDateTime;

use super::store::TokenProblem;
use crate::errors::ApiError;
use crate::state::{AppState, lock};

pub async fn issue_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(super::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "415",
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let mut username = None;
    let mut password = None;
    let mut token = None;
    for (name, value) in form_urlencoded::parse(&body) {
        match name.as_ref() {
            "username" => username = Some(value.into_owned()),
            "password" => password = Some(value.into_owned()),
            "token" => token = Some(value.into_owned()),
            "permissions" if value == "true" || value == "false" => {}
            other => return Err(super::invalid(other, "not a parameter of /auth")),
        }
    }
    let (Some(username), Some(password)) = (username, password) else {
        return Err(super::missing("username, password"));
    };
    if !token.is_some_and(|t| t.eq_ignore_ascii_case("true")) {
        return Err(super::invalid("token", "must be true to receive a JWT"));
    }
    let known = state
        .options
        .qualys
        .users
        .iter()
        .any(|(user, pass)| *user == username && *pass == password);
    if !known {
        return Err(unauthorized("Invalid username or password"));
    }
    let now = OffsetDateTime::now_utc();
    let expires = now + state.options.qualys.token_lifetime;
    let jwt = mint(&username, now, expires);
    lock(&state.qualys).add_token(jwt.clone(), username, expires);
    let mut response = (StatusCode::CREATED, jwt).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

fn unauthorized(message: &str) -> ApiError {
    super::error(StatusCode::UNAUTHORIZED, "401", message)
}

/// A JWT-shaped token: the claims are real (`sub`, `iss`, `iat`, `exp`), the signature is
/// random bytes; the sim recognises its tokens by remembering them, as clients cannot verify
/// Qualys' signature either.
fn mint(user: &str, now: OffsetDateTime, expires: OffsetDateTime) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
    let claims = json!({
        "sub": user,
        "iss": "qas",
        "iat": now.unix_timestamp(),
        "exp": expires.unix_timestamp(),
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut signature = [0u8; 32];
    rand::rng().fill_bytes(&mut signature);
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The user behind the request's bearer token.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = bearer(headers).ok_or_else(|| unauthorized("Authorization: Bearer <jwt> is required"))?;
    lock(&state.qualys)
        .token_user(&token, OffsetDateTime::now_utc())
        .map_err(|problem| match problem {
            TokenProblem::Unknown => unauthorized("Invalid token"),
            TokenProblem::Expired => unauthorized("Token expired"),
        })
}

/// The bearer token of a request, if any (also the throttle identity of the caller).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_carry_exp() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        let token = mint("u", now, now + time::Duration::hours(4));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims["exp"], 1_700_000_000 + 4 * 3600);
        assert_eq!(claims["sub"], "u");
    }

    #[test]
    fn reads_bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer a.b.c"));
        assert_eq!(bearer(&headers).as_deref(), Some("a.b.c"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
    }
}
