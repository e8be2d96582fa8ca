//! The Qualys CertView client: DigiCert enrollment requests placed and tracked through Qualys
//! (`docs/qualys-wire.md` records each field, its source, and what is unverified).
//!
//! Every call carries a JWT from the gateway's `POST /auth`. The token is cached and fetched
//! again shortly before the `exp` it carries, and once more after a 401. `exp` is read without
//! checking the signature: we hold no Qualys key to check it with, and need none, since the
//! token only goes back to the service that made it, which checks it; `exp` merely tells us
//! when to fetch the next one (a wrong `exp` costs at most one 401 and one refresh).

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use governor::Quota;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::RequestObserver;
use super::error::ServiceError;
use super::http::HttpSettings;
use super::qualys_types::*;
use super::retry::RetryPolicy;
use super::service::{Answer, Call, ServiceClient, ServiceClientBuilder, path_segment, typed_client_basics};
use super::throttle::{Throttle, ThrottleSettings};

const SERVICE: &str = "Qualys";
const ORDERS: &str = "/certview/rest/public/v1/certificates/enrollment/digicert/orders";
/// Qualys documents JWTs valid for 4 hours; used when a token's `exp` cannot be read.
const DOCUMENTED_LIFETIME: Duration = Duration::from_secs(4 * 3600);
/// Fetch a new token this long before the old one expires (at most a fifth of its lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// A token answer longer than this is not a JWT.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Leaf, intermediates and root: more than this is not a chain we accept.
pub const MAX_CHAIN_CERTS: usize = 10;

/// Qualys' documented default API control: 300 calls per hour, 2 at once, per subscription
/// (the "auth" API excepted). Subscriptions may have other limits: configure them.
pub const DEFAULT_REQUESTS_PER_HOUR: NonZeroU32 = NonZeroU32::new(300).expect("non-zero");

/// `requests_per_hour` spread evenly over the hour, with a burst of at most 20.
pub fn qualys_quota(requests_per_hour: NonZeroU32) -> Quota {
    let period = Duration::from_secs_f64(3600.0 / f64::from(requests_per_hour.get()));
    let burst = requests_per_hour.min(NonZeroU32::new(20).expect("non-zero"));
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("non-zero period")
        .allow_burst(burst)
}

/// Everything needed to talk to one Qualys subscription as one API user.
#[derive(Clone)]
pub struct QualysClientConfig {
    /// The gateway, e.g. `https://gateway.qg1.apps.qualys.com`.
    pub gateway_url: String,
    pub username: String,
    pub password: SecretString,
    pub http: HttpSettings,
    /// `None`: [`qualys_quota`] of `requests_per_hour` with 2 requests in flight.
    pub throttle: Option<ThrottleSettings>,
    /// The subscription's hourly budget when `throttle` is `None`; default
    /// [`DEFAULT_REQUESTS_PER_HOUR`].
    pub requests_per_hour: Option<NonZeroU32>,
    pub retry: RetryPolicy,
}

impl fmt::Debug for QualysClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QualysClientConfig")
            .field("gateway_url", &self.gateway_url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("throttle", &self.throttle)
            .field("requests_per_hour", &self.requests_per_hour)
            .field("retry", &self.retry)
            .finish()
    }
}

/// A Qualys CertView client. Cheap to clone; clones share the token, the rate limit, the
/// concurrency cap and the `Retry-After` gate.
#[derive(Clone)]
pub struct QualysClient {
    service: ServiceClient,
    username: Arc<str>,
    password: SecretString,
    token: Arc<Mutex<Option<CachedToken>>>,
}

impl fmt::Debug for QualysClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QualysClient")
            .field("service", &self.service)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A client that sends the token, and when to replace it.
struct CachedToken {
    authed: ServiceClient,
    refresh_at: Instant,
    generation: u64,
}

typed_client_basics!(QualysClient, QualysClientConfig);

impl QualysClient {
    pub fn with_observer(
        config: QualysClientConfig,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, ServiceError> {
        let service = ServiceClientBuilder::new(SERVICE, config.gateway_url, &config.http, config.retry)
            .build(observer, || match config.throttle {
                Some(settings) => Throttle::new(settings),
                None => Throttle::with_quota(
                    qualys_quota(config.requests_per_hour.unwrap_or(DEFAULT_REQUESTS_PER_HOUR)),
                    2,
                ),
            })?;
        Ok(Self {
            service,
            username: config.username.into(),
            password: config.password,
            token: Arc::new(Mutex::new(None)),
        })
    }

    /// Fetches a token now (the issuer health check): proves the user name and password work.
    pub async fn authenticate(&self) -> Result<(), ServiceError> {
        self.token.lock().await.take();
        self.token().await.map(|_| ())
    }

    /// `POST .../enrollment/digicert/orders` with our CSR (`autoGenerateCSR` is always false).
    /// Not repeated after an ambiguous failure: Qualys may have placed the request, and only the
    /// UUID it answers with finds it again (there is no search by name, see the wire doc).
    pub async fn enroll(
        &self,
        profile: &EnrollmentProfile,
        order: &CertificateOrder,
    ) -> Result<EnrollmentView, ServiceError> {
        let body = json_body(&EnrollmentBody::new(profile, order))?;
        let answer = self
            .authed(|service| {
                let body = body.clone();
                async move {
                    service
                        .send(call("enroll", Method::POST, ORDERS.into(), Some(body), false))
                        .await
                }
            })
            .await?;
        let view: EnrollmentView = answer.json(SERVICE, "enroll")?;
        path_segment("enroll", &view.uuid)?;
        Ok(view)
    }

    /// `GET .../orders/{uuid}`: where the request stands ([`EnrollmentView::outcome`]).
    pub async fn view(&self, uuid: &str) -> Result<EnrollmentView, ServiceError> {
        let path = format!("{ORDERS}/{}", path_segment("view", uuid)?);
        let answer = self
            .authed(|service| {
                let path = path.clone();
                async move { service.send(call("view", Method::GET, path, None, true)).await }
            })
            .await?;
        answer.json(SERVICE, "view")
    }

    /// `PUT .../orders/{uuid}/status` with `CANCELLED`: withdraws a request not yet approved
    /// (Qualys refuses to cancel an approved one).
    pub async fn cancel(&self, uuid: &str, comment: &str) -> Result<(), ServiceError> {
        let path = format!("{ORDERS}/{}/status", path_segment("cancel", uuid)?);
        let body = json_body(&serde_json::json!({"status": "CANCELLED", "comment": comment}))?;
        self.authed(|service| {
            let (path, body) = (path.clone(), body.clone());
            async move {
                service
                    .send(call("cancel", Method::PUT, path, Some(body), false))
                    .await
            }
        })
        .await?;
        Ok(())
    }

    /// `GET .../orders/{uuid}/certificate` (unverified, see the wire doc): the issued
    /// certificate and its chain as PEM blocks, leaf first. Anything but certificates, or more
    /// than [`MAX_CHAIN_CERTS`] of them, is refused.
    pub async fn download_chain(&self, uuid: &str) -> Result<Vec<String>, ServiceError> {
        let path = format!("{ORDERS}/{}/certificate", path_segment("download", uuid)?);
        let answer = self
            .authed(|service| {
                let path = path.clone();
                async move {
                    service
                        .send_parsed(call("download", Method::GET, path, None, true), |a| {
                            split_chain(&a.body)
                        })
                        .await
                }
            })
            .await?;
        Ok(answer)
    }

    /// Runs `request` with a valid token; after a 401, once more with a fresh one.
    async fn authed<T, F, Fut>(&self, request: F) -> Result<T, ServiceError>
    where
        F: Fn(ServiceClient) -> Fut,
        Fut: Future<Output = Result<T, ServiceError>>,
    {
        let (authed, generation) = self.token().await?;
        match request(authed).await {
            Err(e) if e.status() == Some(401) => {
                self.forget(generation).await;
                let (authed, _) = self.token().await?;
                request(authed).await
            }
            other => other,
        }
    }

    async fn forget(&self, generation: u64) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.generation == generation) {
            *cached = None;
        }
    }

    /// The cached token's client, or a new one. Holding the lock while fetching makes every
    /// concurrent caller wait for that one fetch instead of each asking `/auth`.
    async fn token(&self) -> Result<(ServiceClient, u64), ServiceError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok((token.authed.clone(), token.generation));
        }
        let jwt = self.fetch_token().await?;
        let generation = cached.as_ref().map_or(1, |t| t.generation + 1);
        let refresh_at = Instant::now() + refresh_after(jwt_expiry(jwt.expose_secret()), SystemTime::now());
        let bearer = format!("Bearer {}", jwt.expose_secret());
        let authed = self.service.with_auth("authorization", &bearer)?;
        *cached = Some(CachedToken {
            authed: authed.clone(),
            refresh_at,
            generation,
        });
        Ok((authed, generation))
    }

    /// `POST /auth` with `username`, `password`, `token=true` (form): the bare JWT.
    async fn fetch_token(&self) -> Result<SecretString, ServiceError> {
        let form = format!(
            "username={}&password={}&token=true",
            form_encode(&self.username),
            form_encode(self.password.expose_secret())
        );
        let answer = self
            .service
            .send_form(call(
                "auth",
                Method::POST,
                "/auth".into(),
                Some(form.into_bytes()),
                true,
            ))
            .await?;
        token_of(&answer)
    }
}

fn call(
    endpoint: &'static str,
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
    idempotent: bool,
) -> Call<'static, ()> {
    Call {
        endpoint,
        method,
        path,
        query: None,
        body,
        idempotent,
    }
}

fn json_body<T: Serialize>(value: &T) -> Result<Vec<u8>, ServiceError> {
    serde_json::to_vec(value).map_err(|e| ServiceError::Config(format!("request body: {e}")))
}

/// The JWT of an `/auth` answer. The body is never quoted in errors: it may be a token.
fn token_of(answer: &Answer) -> Result<SecretString, ServiceError> {
    let text = std::str::from_utf8(&answer.body).unwrap_or_default().trim();
    let jwt_like = answer.body.len() <= MAX_TOKEN_BYTES
        && text.split('.').count() == 3
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.=".contains(&b));
    if !jwt_like {
        return Err(ServiceError::UnexpectedBody {
            service: SERVICE,
            endpoint: "auth",
            reason: "the answer is not a JWT".into(),
        });
    }
    Ok(SecretString::from(text.to_string()))
}

/// The `exp` claim of a JWT, unverified (see the module comment).
pub fn jwt_expiry(jwt: &str) -> Option<SystemTime> {
    let claims = jwt.split('.').nth(1)?;
    let claims = URL_SAFE_NO_PAD.decode(claims.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&claims).ok()?;
    let exp = claims
        .get("exp")?
        .as_f64()
        .filter(|e| e.is_finite() && *e > 0.0)?;
    Some(UNIX_EPOCH + Duration::from_secs_f64(exp))
}

/// How long to use a token that expires at `expiry`: up to a margin before it (a fifth of
/// its lifetime, at most [`REFRESH_MARGIN`]). Without a readable `exp`, the documented
/// 4 hours; with one already past (a skewed clock), a minute, then the 401 path decides.
pub fn refresh_after(expiry: Option<SystemTime>, now: SystemTime) -> Duration {
    let lifetime = match expiry {
        None => DOCUMENTED_LIFETIME,
        Some(at) => match at.duration_since(now) {
            Ok(left) if !left.is_zero() => left,
            _ => return Duration::from_secs(60),
        },
    };
    lifetime - REFRESH_MARGIN.min(lifetime / 5)
}

/// `application/x-www-form-urlencoded` for one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(byte as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The PEM `CERTIFICATE` blocks of a download, in order.
fn split_chain(body: &[u8]) -> Result<Vec<String>, ServiceError> {
    let bad = |reason: String| ServiceError::UnexpectedBody {
        service: SERVICE,
        endpoint: "download",
        reason,
    };
    let blocks = pem::parse_many(body).map_err(|e| bad(format!("not PEM: {e}")))?;
    if blocks.is_empty() || blocks.len() > MAX_CHAIN_CERTS {
        return Err(bad(format!(
            "{} PEM blocks, expected 1 to {MAX_CHAIN_CERTS}",
            blocks.len()
        )));
    }
    if let Some(other) = blocks.iter().find(|b| b.tag() != "CERTIFICATE") {
        // Never echo the block: it may be key material.
        return Err(bad(format!(
            "a {:?} block where only certificates belong",
            other.tag()
        )));
    }
    Ok(blocks.iter().map(pem::encode).collect())
}

#[cfg(test)]
#[path = "qualys_tests.rs"]
mod tests;
