//! HTTP plumbing shared by the clients: TLS trust, timeouts, user agent, proxies, bounded body
//! reads and `Retry-After` parsing.

use std::time::{Duration, SystemTime};

/// Responses larger than this are refused: no service we talk to sends anything near it, and an
/// unbounded read would let a broken proxy exhaust memory.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// User-Agent sent to every service.
pub const USER_AGENT: &str = concat!("tlm-operator/", env!("CARGO_PKG_VERSION"));

/// How to build an HTTP client.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// PEM roots to trust instead of the system's. TLS is always verified.
    pub ca_bundle: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            ca_bundle: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("caBundle holds no usable PEM certificate: {0}")]
    CaBundle(String),
    #[error("HTTP client cannot be built: {0}")]
    Client(String),
}

/// A reqwest client with our TLS, timeout, proxy (from HTTP(S)_PROXY/NO_PROXY) and User-Agent
/// settings.
pub fn build_client(settings: &HttpSettings) -> Result<reqwest::Client, BuildError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        // Redirects would carry the API key header (reqwest strips only `Authorization`) to
        // wherever the service points, possibly over plain http: none are followed.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60));
    if let Some(bundle) = &settings.ca_bundle {
        let certs = reqwest::Certificate::from_pem_bundle(bundle.as_bytes())
            .map_err(|e| BuildError::CaBundle(e.to_string()))?;
        if certs.is_empty() {
            return Err(BuildError::CaBundle("no certificates found".into()));
        }
        builder = builder.tls_certs_only(certs);
    }
    builder.build().map_err(|e| BuildError::Client(e.to_string()))
}

/// Reads a response body, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_body_limited(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            body.extend_from_slice(&chunk[..MAX_BODY_BYTES.saturating_sub(body.len())]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` as a duration from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
/// A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// The longest wait a service may impose with `Retry-After`. Anything longer (a hostile
/// `99999999999999`, a date in year 9999) is clamped: waits are added to clocks, and a wait
/// longer than this would only silence the Issuer or watch behind it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After` of a response, if it has a valid one; else a non-zero
/// `X-RateLimit-ToWait-Sec` (Qualys names its rate-limit wait so, on every answer).
pub fn retry_after_of(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
    };
    header(reqwest::header::RETRY_AFTER.as_str())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
        .or_else(|| {
            header("x-ratelimit-towait-sec")
                .and_then(|v| parse_retry_after(v, SystemTime::now()))
                .filter(|wait| !wait.is_zero())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 22 Nov 2026 10:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("99999999999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn bad_ca_bundle_is_refused() {
        let settings = HttpSettings {
            ca_bundle: Some("not pem".into()),
            ..Default::default()
        };
        assert!(matches!(build_client(&settings), Err(BuildError::CaBundle(_))));
    }
}
