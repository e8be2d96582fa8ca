//! One service client per issuer, rebuilt when the issuer's URL, CA bundle or API key changes,
//! so a credential rotation takes effect without a restart while the rate limit and
//! `Retry-After` gate of an unchanged issuer carry over between reconciles. Shared by the
//! Issuer controller (health checks), the Certificate lifecycle and the cert-manager issuer.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use crate::api::{CertCentralIssuerConfig, IssuerKind, QualysCertViewIssuerConfig, TlmIssuerConfig};
use crate::clients::certcentral_orders::{CertCentralOrdersClient, CertCentralOrdersConfig};
use crate::clients::http::HttpSettings;
use crate::clients::qualys::{QualysClient, QualysClientConfig};
use crate::clients::retry::RetryPolicy;
use crate::clients::throttle::ThrottleSettings;
use crate::clients::tlm::{TlmClient, TlmClientConfig};
use crate::metrics::Metrics;
use crate::pki::sha256_hex;

pub use super::credentials::CredentialError;
use super::credentials::read_secret_keys;

/// How long a client is trusted without re-reading its API key Secret.
const SECRET_RECHECK: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct IssuerKey {
    pub kind: IssuerKind,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{:?} {ns}/{}", self.kind, self.name),
            None => write!(f, "{:?} {}", self.kind, self.name),
        }
    }
}

pub struct Refreshed<C = TlmClient> {
    pub client: C,
    pub fingerprint: String,
}

/// A client of whichever service the issuer names.
#[derive(Clone)]
enum AnyClient {
    Tlm(TlmClient),
    CertCentral(CertCentralOrdersClient),
    Qualys(QualysClient),
}

struct Entry {
    client: AnyClient,
    fingerprint: String,
    checked: Instant,
}

/// What shapes every client the registry builds, from the command line.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Namespace holding ClusterIssuers' API key Secrets.
    pub cluster_issuer_namespace: String,
    pub http: HttpSettings,
    pub throttle: ThrottleSettings,
    pub retry: RetryPolicy,
}

pub struct ClientRegistry {
    config: ClientSettings,
    metrics: Arc<Metrics>,
    entries: Mutex<HashMap<IssuerKey, Entry>>,
}

impl ClientRegistry {
    pub fn new(config: ClientSettings, metrics: Arc<Metrics>) -> Self {
        Self {
            config,
            metrics,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The client for an issuer. Re-reads the API key Secret when the cached client is older
    /// than a few seconds, and builds a new client when anything that shapes it changed.
    pub async fn client(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        tlm: &TlmIssuerConfig,
    ) -> Result<TlmClient, CredentialError> {
        if let Some(entry) = self.entries.lock().expect("registry lock").get(key)
            && entry.checked.elapsed() < SECRET_RECHECK
            && let AnyClient::Tlm(client) = &entry.client
        {
            return Ok(client.clone());
        }
        Ok(self.refresh(kube, key, tlm).await?.client)
    }

    /// The CertCentral client of an issuer: one per issuer for the process (its request budget
    /// below the published per-key limits and its 429 hold shared by every Certificate), rebuilt
    /// like [`Self::client`] when the URL, CA bundle or API key changes.
    pub async fn certcentral_client(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        config: &CertCentralIssuerConfig,
    ) -> Result<CertCentralOrdersClient, CredentialError> {
        if let Some(entry) = self.entries.lock().expect("registry lock").get(key)
            && entry.checked.elapsed() < SECRET_RECHECK
            && let AnyClient::CertCentral(client) = &entry.client
        {
            return Ok(client.clone());
        }
        Ok(self.refresh_certcentral(kube, key, config).await?.client)
    }

    /// [`Self::refresh`] for a CertCentral issuer.
    pub async fn refresh_certcentral(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        config: &CertCentralIssuerConfig,
    ) -> Result<Refreshed<CertCentralOrdersClient>, CredentialError> {
        let refreshed = self
            .refresh_any(
                kube,
                key,
                &config.api_key_secret_ref.name,
                &[&config.api_key_secret_ref.key],
                &[
                    "certcentral",
                    &config.url,
                    config.ca_bundle.as_deref().unwrap_or(""),
                ],
                |mut values| {
                    CertCentralOrdersClient::with_observer(
                        CertCentralOrdersConfig {
                            base_url: config.url.clone(),
                            api_key: SecretString::from(values.remove(0)),
                            http: HttpSettings {
                                ca_bundle: config.ca_bundle.clone(),
                                ..self.config.http.clone()
                            },
                            retry: self.config.retry,
                            // A budget of its own per issuer, under 100/5 s and 1,000/3 min.
                            throttle: None,
                        },
                        self.metrics.clone(),
                    )
                    .map(AnyClient::CertCentral)
                    .map_err(|e| CredentialError::Client(e.to_string()))
                },
            )
            .await?;
        match refreshed.client {
            AnyClient::CertCentral(client) => Ok(Refreshed {
                client,
                fingerprint: refreshed.fingerprint,
            }),
            _ => Err(CredentialError::Client("issuer changed backend".into())),
        }
    }

    /// The Qualys CertView client of an issuer: one per issuer for the process (its token, its
    /// hourly budget and its 2-in-flight cap shared by every Certificate), rebuilt like
    /// [`Self::client`] when the URL, CA bundle, budget or credentials change.
    pub async fn qualys_client(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        config: &QualysCertViewIssuerConfig,
    ) -> Result<QualysClient, CredentialError> {
        if let Some(entry) = self.entries.lock().expect("registry lock").get(key)
            && entry.checked.elapsed() < SECRET_RECHECK
            && let AnyClient::Qualys(client) = &entry.client
        {
            return Ok(client.clone());
        }
        Ok(self.refresh_qualys(kube, key, config).await?.client)
    }

    /// [`Self::refresh`] for a Qualys CertView issuer.
    pub async fn refresh_qualys(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        config: &QualysCertViewIssuerConfig,
    ) -> Result<Refreshed<QualysClient>, CredentialError> {
        let credentials = &config.credentials_secret_ref;
        let budget = config.requests_per_hour.unwrap_or(0).to_string();
        let refreshed = self
            .refresh_any(
                kube,
                key,
                &credentials.name,
                &[&credentials.username_key, &credentials.password_key],
                &[
                    "qualys",
                    &config.url,
                    config.ca_bundle.as_deref().unwrap_or(""),
                    &budget,
                ],
                |mut values| {
                    let password = SecretString::from(values.pop().unwrap_or_default());
                    let username = values.pop().unwrap_or_default();
                    QualysClient::with_observer(
                        QualysClientConfig {
                            gateway_url: config.url.clone(),
                            username,
                            password,
                            http: HttpSettings {
                                ca_bundle: config.ca_bundle.clone(),
                                ..self.config.http.clone()
                            },
                            throttle: None,
                            requests_per_hour: config.requests_per_hour.and_then(NonZeroU32::new),
                            retry: self.config.retry,
                        },
                        self.metrics.clone(),
                    )
                    .map(AnyClient::Qualys)
                    .map_err(|e| CredentialError::Client(e.to_string()))
                },
            )
            .await?;
        match refreshed.client {
            AnyClient::Qualys(client) => Ok(Refreshed {
                client,
                fingerprint: refreshed.fingerprint,
            }),
            _ => Err(CredentialError::Client("issuer changed backend".into())),
        }
    }

    /// Re-reads the Secret now and returns a client for what it holds, with a fingerprint of
    /// what shaped it (URL, CA bundle, API key) that changes when any of them does.
    pub async fn refresh(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        tlm: &TlmIssuerConfig,
    ) -> Result<Refreshed, CredentialError> {
        let refreshed = self
            .refresh_any(
                kube,
                key,
                &tlm.api_key_secret_ref.name,
                &[&tlm.api_key_secret_ref.key],
                &[&tlm.url, tlm.ca_bundle.as_deref().unwrap_or("")],
                |mut values| {
                    TlmClient::with_observer(
                        TlmClientConfig {
                            base_url: tlm.url.clone(),
                            api_key: SecretString::from(values.remove(0)),
                            http: HttpSettings {
                                ca_bundle: tlm.ca_bundle.clone(),
                                ..self.config.http.clone()
                            },
                            throttle: self.config.throttle,
                            retry: self.config.retry,
                        },
                        self.metrics.clone(),
                    )
                    .map(AnyClient::Tlm)
                    .map_err(|e| CredentialError::Client(e.to_string()))
                },
            )
            .await?;
        match refreshed.client {
            AnyClient::Tlm(client) => Ok(Refreshed {
                client,
                fingerprint: refreshed.fingerprint,
            }),
            _ => Err(CredentialError::Client("issuer changed backend".into())),
        }
    }

    /// Reads the credentials (`keys` of Secret `secret`) and reuses the issuer's client when
    /// nothing that shapes it changed (`shape`: the settings besides the credentials), else
    /// builds one with `build`, which gets the values in the order of `keys`.
    async fn refresh_any(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        secret: &str,
        keys: &[&str],
        shape: &[&str],
        build: impl FnOnce(Vec<String>) -> Result<AnyClient, CredentialError>,
    ) -> Result<Refreshed<AnyClient>, CredentialError> {
        let namespace = match key.kind {
            IssuerKind::Issuer => key.namespace.clone().unwrap_or_default(),
            IssuerKind::ClusterIssuer => self.config.cluster_issuer_namespace.clone(),
        };
        let values = read_secret_keys(kube, &namespace, secret, keys).await?;
        let fingerprint = sha256_hex(format!("{}\n{}", shape.join("\n"), values.join("\n")).as_bytes());
        let mut entries = self.entries.lock().expect("registry lock");
        if let Some(entry) = entries.get_mut(key)
            && entry.fingerprint == fingerprint
        {
            entry.checked = Instant::now();
            return Ok(Refreshed {
                client: entry.client.clone(),
                fingerprint,
            });
        }
        let client = build(values)?;
        entries.insert(
            key.clone(),
            Entry {
                client: client.clone(),
                fingerprint: fingerprint.clone(),
                checked: Instant::now(),
            },
        );
        Ok(Refreshed { client, fingerprint })
    }

    /// Forget a client (after an authentication failure), so the next use re-reads the Secret.
    pub fn invalidate(&self, key: &IssuerKey) {
        self.entries.lock().expect("registry lock").remove(key);
    }
}
