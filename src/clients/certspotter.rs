//! SSLMate Cert Spotter API v1 (`GET /v1/issuances`), as SSLMate's public API v1 documentation
//! describes it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use super::RequestObserver;
use super::error::ServiceError;
use super::http::HttpSettings;
use super::retry::RetryPolicy;
use super::service::{Call, ServiceClient};
use super::throttle::Throttle;

const SERVICE: &str = "Cert Spotter";
/// The API accepts at most this many `domain` parameters per request.
pub const MAX_DOMAINS_PER_QUERY: usize = 10;

/// One issuance object. Everything but `id` is optional: unexpanded or missing fields are
/// tolerated, unknown ones ignored.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct Issuance {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub tbs_sha256: Option<String>,
    #[serde(default)]
    pub dns_names: Vec<String>,
    #[serde(default)]
    pub pubkey_sha256: Option<String>,
    #[serde(default)]
    pub issuer: Option<IssuerInfo>,
    #[serde(default)]
    pub not_before: Option<String>,
    #[serde(default)]
    pub not_after: Option<String>,
    #[serde(default)]
    pub cert: Option<CertObject>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct IssuerInfo {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub pubkey_sha256: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct CertObject {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    /// Base64 DER.
    #[serde(default)]
    pub data: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "issuance id is {other}, not a string"
        ))),
    }
}

/// A query for one batch of domains sharing flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceQuery {
    pub domains: Vec<String>,
    pub include_subdomains: bool,
    pub match_wildcards: bool,
    pub expand_cert: bool,
    pub after: Option<String>,
}

impl IssuanceQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&'static str, String)> =
            self.domains.iter().map(|d| ("domain", d.clone())).collect();
        pairs.push(("include_subdomains", self.include_subdomains.to_string()));
        pairs.push(("match_wildcards", self.match_wildcards.to_string()));
        pairs.push(("expand", "dns_names".into()));
        pairs.push(("expand", "issuer".into()));
        if self.expand_cert {
            pairs.push(("expand", "cert".into()));
        }
        if let Some(after) = &self.after {
            pairs.push(("after", after.clone()));
        }
        pairs
    }
}

/// One response: the issuances, and on an empty page the `Retry-After` the API sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuancePage {
    pub issuances: Vec<Issuance>,
    pub retry_after: Option<Duration>,
}

#[derive(Clone, Debug)]
pub struct CertSpotterClient {
    service: ServiceClient,
}

impl CertSpotterClient {
    /// Without a token the API's small unauthenticated allowance is used.
    pub fn new(
        base_url: &str,
        token: Option<&SecretString>,
        http: &HttpSettings,
        throttle: Arc<Throttle>,
        retry: RetryPolicy,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, ServiceError> {
        let bearer = token.map(|t| format!("Bearer {}", t.expose_secret()));
        let auth = bearer.as_deref().map(|value| ("authorization", value));
        let service = ServiceClient::new(SERVICE, base_url, auth, http, throttle, retry, observer)?;
        Ok(Self { service })
    }

    /// One page of `GET /v1/issuances`.
    pub async fn issuances(&self, query: &IssuanceQuery) -> Result<IssuancePage, ServiceError> {
        if query.domains.is_empty() || query.domains.len() > MAX_DOMAINS_PER_QUERY {
            return Err(ServiceError::Config(format!(
                "{} domains in one query (1..=10)",
                query.domains.len()
            )));
        }
        let pairs = query.pairs();
        let call = Call {
            endpoint: "issuances",
            method: Method::GET,
            path: "/v1/issuances".into(),
            query: Some(&pairs),
            body: None,
            idempotent: true,
        };
        // Decoding happens inside the retry loop: a truncated page is fetched again.
        self.service
            .send_parsed(call, |answer| {
                let issuances: Vec<Issuance> = answer.json(SERVICE, "issuances")?;
                Ok(IssuancePage {
                    retry_after: answer.retry_after,
                    issuances,
                })
            })
            .await
    }
}

/// An issuance id that sorts numerically, for ordered collections of issuances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuanceId(pub String);

impl Ord for IssuanceId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        id_order(&self.0, &other.0)
    }
}

impl PartialOrd for IssuanceId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares Cert Spotter ids (decimal strings) numerically; longer is larger.
pub fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_parses() {
        let body = r#"[{ "id":"23527804", "tbs_sha256":"e94a", "dns_names":["*.example.com","example.com"],
            "pubkey_sha256":"9bc7", "issuer":{"name":"C=US, O=\"thawte, Inc.\", CN=thawte SSL CA - G2","pubkey_sha256":"691e"},
            "not_before":"2016-07-14T00:00:00-00:00", "not_after":"2018-07-14T23:59:59-00:00",
            "cert":{"id":"24173516","type":"precert","sha256":"9448","data":"MIIE"}, "new_field": 1 }]"#;
        let parsed: Vec<Issuance> = serde_json::from_str(body).unwrap();
        assert_eq!(parsed[0].id, "23527804");
        assert_eq!(parsed[0].dns_names.len(), 2);
        assert_eq!(parsed[0].cert.as_ref().unwrap().kind.as_deref(), Some("precert"));
        let minimal: Vec<Issuance> = serde_json::from_str(r#"[{"id": 7}]"#).unwrap();
        assert_eq!(minimal[0].id, "7");
        assert!(
            serde_json::from_str::<Vec<Issuance>>(r#"[{"tbs_sha256":"x"}]"#).is_err(),
            "id is required"
        );
    }

    #[test]
    fn query_repeats_domain_and_expand() {
        let q = IssuanceQuery {
            domains: vec!["a.com".into(), "b.com".into()],
            include_subdomains: true,
            match_wildcards: false,
            expand_cert: true,
            after: Some("42".into()),
        };
        let pairs = q.pairs();
        assert_eq!(pairs.iter().filter(|(k, _)| *k == "domain").count(), 2);
        assert_eq!(pairs.iter().filter(|(k, _)| *k == "expand").count(), 3);
        assert!(pairs.contains(&("after", "42".into())));
    }

    #[test]
    fn ids_compare_as_numbers() {
        assert_eq!(id_order("9", "10"), std::cmp::Ordering::Less);
        assert_eq!(id_order("100", "99"), std::cmp::Ordering::Greater);
        assert_eq!(id_order("5", "5"), std::cmp::Ordering::Equal);
    }
}
