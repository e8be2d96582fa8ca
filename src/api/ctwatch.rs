//! `CTWatch`: watch public Certificate Transparency logs (through Cert Spotter) for certificates
//! covering a set of domains, and flag those this cluster did not ask for.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::core::Duration;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretKeySelector;

const DOMAIN_RE: &str = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$";

/// Desired state of a CTWatch.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tlm.certops.dev",
    version = "v1alpha1",
    kind = "CTWatch",
    plural = "ctwatches",
    namespaced,
    status = "CTWatchStatus",
    shortname = "ctw",
    category = "tlm",
    doc = "A CTWatch monitors Certificate Transparency logs for certificates covering its domains and reports those that were not issued at this cluster's request.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Domains", type_ = "string", json_path = ".spec.domains"),
    printcolumn(
        name = "Unexpected",
        type_ = "integer",
        json_path = ".status.unexpectedIssuances"
    ),
    printcolumn(name = "Last Poll", type_ = "date", json_path = ".status.lastPollTime"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct CTWatchSpec {
    /// Registered domains to watch, e.g. `example.com`: lowercase, no scheme, no wildcard
    /// (use `matchWildcards`). Internationalized names in Punycode (`xn--...`). 1 to 100.
    #[schemars(length(min = 1, max = 100), inner(length(max = 253)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[x_kube(validation = Rule::new("self.all(d, !d.contains('://'))").message("domains are bare DNS names without a scheme: example.com, not https://example.com"))]
    #[x_kube(validation = Rule::new("self.all(d, !d.contains('*'))").message("domains may not contain wildcards; set matchWildcards: true to also match wildcard certificates"))]
    #[x_kube(validation = Rule::new("self.all(d, d == d.lowerAscii())").message("domains must be lowercase"))]
    #[x_kube(validation = Rule::new(format!("self.all(d, d.contains('://') || d.contains('*') || d != d.lowerAscii() || d.matches(r'{DOMAIN_RE}'))")).message("domains must be DNS names with at least two labels, such as example.com"))]
    pub domains: Vec<String>,

    /// Also match certificates for subdomains of each domain (`www.example.com` for
    /// `example.com`).
    #[serde(default)]
    pub include_subdomains: bool,

    /// Also match wildcard certificates that cover a domain (`*.example.com` covers
    /// `www.example.com`).
    #[serde(default = "default_true")]
    pub match_wildcards: bool,

    /// Where issuances come from.
    #[serde(default)]
    pub source: CTSource,

    /// How often to poll, as a Go duration; at least `1m`. The source may ask for longer
    /// (Retry-After), which is honoured.
    #[serde(default = "default_interval")]
    #[schemars(extend("default" = "1h"), length(max = 64), regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"))]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1m')").message("interval must be at least 1m"))]
    pub interval: Duration,

    /// Issuers whose certificates are expected (e.g. your public CA). Matched by the issuer
    /// public key's SHA-256, or by issuer name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub expected_issuers: Vec<ExpectedIssuer>,

    /// Treat certificates whose key this operator generated (for any Certificate) as expected.
    #[serde(default = "default_true")]
    pub treat_managed_as_expected: bool,

    /// Where a new watch starts: `Beginning` judges every logged issuance; `Now` only those
    /// logged after the watch was created.
    #[serde(default)]
    pub start_from: StartFrom,

    /// How many judged issuances `status.recent` keeps, newest first.
    #[serde(default = "default_recent_limit")]
    #[schemars(range(min = 1, max = 500))]
    pub recent_limit: u32,

    /// Optional: download CT-logged DigiCert certificates from CertCentral's CT monitor as
    /// evidence. Failures here never stop the watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digicert_evidence: Option<DigicertEvidence>,
}

fn default_true() -> bool {
    true
}

fn default_interval() -> Duration {
    std::time::Duration::from_secs(3600).into()
}

fn default_recent_limit() -> u32 {
    50
}

/// Source of CT issuances.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CTSource {
    /// SSLMate Cert Spotter API.
    #[serde(default)]
    pub cert_spotter: CertSpotterSource,
}

/// Cert Spotter API endpoint and credentials.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertSpotterSource {
    /// Base URL of the Cert Spotter API. https, or http on loopback for the simulator.
    #[serde(default = "default_certspotter_url")]
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("isURL(self) && (url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && url(self).getHostname() in ['127.0.0.1', 'localhost', '::1']))").message("url must be an https URL; plain http is only allowed for loopback addresses"))]
    pub url: String,
    /// Secret key holding a Cert Spotter API token (sent as `Authorization: Bearer`). Without it
    /// the unauthenticated, low-quota access is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<SecretKeySelector>,
    /// PEM CA bundle trusted for TLS to `url` instead of the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 262144))]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN CERTIFICATE-----')").message("caBundle must contain at least one PEM certificate"))]
    pub ca_bundle: Option<String>,
}

impl Default for CertSpotterSource {
    fn default() -> Self {
        Self {
            url: default_certspotter_url(),
            token_secret_ref: None,
            ca_bundle: None,
        }
    }
}

fn default_certspotter_url() -> String {
    "https://api.certspotter.com".to_string()
}

/// An issuer whose certificates are expected.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.name) || has(self.pubkeySha256)").message("an expectedIssuers entry needs a name or a pubkeySha256"))]
pub struct ExpectedIssuer {
    /// Issuer distinguished name or a substring of it, as Cert Spotter reports it (e.g.
    /// `C=US, O=DigiCert Inc, CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub name: Option<String>,
    /// SHA-256 of the issuer's public key (SubjectPublicKeyInfo), lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9a-f]{64}$')").message("pubkeySha256 must be 64 lowercase hex characters"))]
    #[schemars(length(max = 64))]
    pub pubkey_sha256: Option<String>,
}

/// Where a new watch starts reading.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartFrom {
    #[default]
    Beginning,
    Now,
}

/// CertCentral CT monitor access, for evidence.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DigicertEvidence {
    /// Base URL of CertCentral, e.g. `https://www.digicert.com` (the operator appends
    /// `/services/v2/...`). https, or http on loopback.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("isURL(self) && (url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && url(self).getHostname() in ['127.0.0.1', 'localhost', '::1']))").message("url must be an https URL; plain http is only allowed for loopback addresses"))]
    pub url: String,
    /// Secret key holding the CertCentral API key (sent as `X-DC-DEVKEY`).
    pub api_key_secret_ref: SecretKeySelector,
    /// CT monitor order ID.
    #[schemars(length(min = 1, max = 64))]
    pub order_id: String,
    /// Evidence is fetched for unexpected issuances whose issuer name contains this text.
    #[serde(default = "default_digicert")]
    #[schemars(length(min = 1, max = 256))]
    pub issuer_contains: String,
    /// PEM CA bundle trusted for TLS to `url` instead of the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 262144))]
    pub ca_bundle: Option<String>,
}

fn default_digicert() -> String {
    "DigiCert".to_string()
}

/// Observed state of a CTWatch.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CTWatchStatus {
    /// `Ready` tells whether the last poll succeeded; its reason names quota exhaustion, an
    /// authentication failure or an unreachable source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// ID of the last Cert Spotter issuance judged; polling resumes after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// When the last poll finished successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_time: Option<Time>,
    /// Earliest time of the next poll (interval or the source's Retry-After).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_poll_time: Option<Time>,
    /// Issuances judged so far.
    #[serde(default)]
    pub issuances_seen: i64,
    /// Issuances judged unexpected so far.
    #[serde(default)]
    pub unexpected_issuances: i64,
    /// The most recently judged issuances, newest first, bounded by `spec.recentLimit`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<JudgedIssuance>,
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One issuance from the CT log and the verdict on it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JudgedIssuance {
    /// Cert Spotter issuance ID.
    pub id: String,
    /// DNS names in the certificate.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// Issuer name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Start of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// End of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// SHA-256 of the TBSCertificate (hex), the issuance's identity across precert and cert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tbs_sha256: Option<String>,
    /// SHA-256 of the certificate's public key (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey_sha256: Option<String>,
    /// SHA-256 of the certificate downloaded as evidence (CertCentral CT monitor), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_sha256: Option<String>,
    /// `Expected` or `Unexpected`.
    pub verdict: Verdict,
    /// Why: `ManagedKey`, `ExpectedIssuer` or `UnknownKeyAndIssuer`.
    pub reason: String,
}

/// Verdict on one issuance.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verdict {
    #[default]
    Expected,
    Unexpected,
}
