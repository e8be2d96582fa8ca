//! What a simulator instance is configured with; the CLI maps its flags onto this.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::faults::FaultRule;

/// An API key and the profiles it may use (`None`: every profile).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyGrant {
    pub key: String,
    pub profiles: Option<Vec<String>>,
}

impl ApiKeyGrant {
    pub fn all_profiles(key: impl Into<String>) -> Self {
        ApiKeyGrant {
            key: key.into(),
            profiles: None,
        }
    }

    pub fn only(key: impl Into<String>, profiles: &[&str]) -> Self {
        ApiKeyGrant {
            key: key.into(),
            profiles: Some(profiles.iter().map(|p| p.to_string()).collect()),
        }
    }

    /// Parses the CLI form `KEY` or `KEY=PROFILE,PROFILE`.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (key, profiles) = match spec.split_once('=') {
            Some((key, profiles)) => {
                let profiles: Vec<String> = profiles
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect();
                (key, Some(profiles))
            }
            None => (spec, None),
        };
        anyhow::ensure!(!key.is_empty(), "an --api-key needs a non-empty key");
        Ok(ApiKeyGrant {
            key: key.to_string(),
            profiles,
        })
    }

    pub fn may_use(&self, profile_id: &str) -> bool {
        self.profiles
            .as_ref()
            .is_none_or(|profiles| profiles.iter().any(|p| p == profile_id))
    }
}

// Keys are secrets: Debug output (which may end up in logs) never shows them.
impl fmt::Debug for ApiKeyGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyGrant")
            .field("key", &"<redacted>")
            .field("profiles", &self.profiles)
            .finish()
    }
}

#[derive(Clone)]
pub struct SimOptions {
    pub listen: SocketAddr,
    pub tls: bool,
    pub api_keys: Vec<ApiKeyGrant>,
    /// `prof-pending` requests answer `PENDING` to this many pickups and are issued by the next.
    pub auto_approve_after_polls: Option<u32>,
    pub short_validity: Duration,
    pub certspotter_page_size: usize,
    pub certspotter_quota_per_hour: Option<u32>,
    pub certspotter_empty_retry_after: Duration,
    pub certspotter_tokens: Vec<String>,
    pub certcentral_api_keys: Vec<String>,
    /// CertCentral orders placed with `skip_approval` wait in `pending` (validation) instead of
    /// being issued at once (see `certcentral_orders`).
    pub certcentral_pending_validation: bool,
    /// A `pending` CertCentral order is issued by the order-info poll after this many.
    pub certcentral_issue_after_polls: Option<u32>,
    /// Per-key rolling windows (requests, window) of the CertCentral order endpoints.
    pub certcentral_rate_limits: Vec<(u32, Duration)>,
    /// Overrides the lifetime of CertCentral leaves (the order's validity otherwise).
    pub certcentral_leaf_lifetime: Option<Duration>,
    /// Qualys CertView (users, JWT lifetime, approval and issuance modes).
    pub qualys: crate::qualys::QualysOptions,
    pub faults: Vec<FaultRule>,
    /// Seeds the fault dice so a run can be replayed.
    pub seed: Option<u64>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            api_keys: vec![
                ApiKeyGrant::all_profiles("test-api-key"),
                ApiKeyGrant::only("limited-api-key", &["prof-x509"]),
            ],
            auto_approve_after_polls: None,
            short_validity: Duration::from_secs(60),
            certspotter_page_size: 100,
            certspotter_quota_per_hour: None,
            certspotter_empty_retry_after: Duration::from_secs(60),
            certspotter_tokens: Vec::new(),
            certcentral_api_keys: vec!["test-devkey".to_string()],
            certcentral_pending_validation: false,
            certcentral_issue_after_polls: None,
            certcentral_rate_limits: vec![(100, Duration::from_secs(5)), (1000, Duration::from_secs(180))],
            certcentral_leaf_lifetime: None,
            qualys: crate::qualys::QualysOptions::default(),
            faults: Vec::new(),
            seed: None,
        }
    }
}

impl fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimOptions")
            .field("listen", &self.listen)
            .field("tls", &self.tls)
            .field("api_keys", &self.api_keys)
            .field("auto_approve_after_polls", &self.auto_approve_after_polls)
            .field("short_validity", &self.short_validity)
            .field("certspotter_page_size", &self.certspotter_page_size)
            .field("certspotter_quota_per_hour", &self.certspotter_quota_per_hour)
            .field(
                "certspotter_empty_retry_after",
                &self.certspotter_empty_retry_after,
            )
            .field(
                "certspotter_tokens",
                &format_args!("<{} redacted>", self.certspotter_tokens.len()),
            )
            .field(
                "certcentral_api_keys",
                &format_args!("<{} redacted>", self.certcentral_api_keys.len()),
            )
            .field(
                "certcentral_pending_validation",
                &self.certcentral_pending_validation,
            )
            .field(
                "certcentral_issue_after_polls",
                &self.certcentral_issue_after_polls,
            )
            .field("certcentral_rate_limits", &self.certcentral_rate_limits)
            .field("certcentral_leaf_lifetime", &self.certcentral_leaf_lifetime)
            .field("qualys", &self.qualys)
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_grants() {
        let all = ApiKeyGrant::parse("k1").expect("plain key");
        assert_eq!(all.profiles, None);
        assert!(all.may_use("anything"));
        let some = ApiKeyGrant::parse("k2=prof-x509, prof-pkcs7").expect("key with profiles");
        assert_eq!(some.key, "k2");
        assert!(some.may_use("prof-pkcs7"));
        assert!(!some.may_use("prof-pending"));
        assert!(ApiKeyGrant::parse("=prof-x509").is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut options = SimOptions::default();
        options.certspotter_tokens.push("cs-secret".into());
        let shown = format!("{options:?}");
        assert!(!shown.contains("test-api-key"));
        assert!(!shown.contains("cs-secret"));
        assert!(!shown.contains("test-devkey"));
    }
}
