//! One service client per issuer, rebuilt when the issuer's URL, CA bundle or API key changes,
//! so a credential rotation takes effect without a restart while the rate limit and
//! `Retry-After` gate of an unchanged issuer carry over between reconciles. Shared by the
//! Issuer controller (health checks), the Certificate lifecycle and the cert-manager issuer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use secrecy::SecretString;

use crate::api::{CertCentralIssuerConfig, IssuerKind, SecretKeySelector, TlmIssuerConfig};
use crate::clients::certcentral_orders::{CertCentralOrdersClient, CertCentralOrdersConfig};
use crate::clients::http::HttpSettings;
use crate::clients::retry::RetryPolicy;
use crate::clients::throttle::ThrottleSettings;
use crate::clients::tlm::{TlmClient, TlmClientConfig};
use crate::metrics::Metrics;
use crate::pki::sha256_hex;

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

/// Why no client could be had. Messages name the Secret and key, never their contents.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("Secret {namespace}/{name} not found")]
    SecretNotFound { namespace: String, name: String },
    #[error("Secret {namespace}/{name} has no key {key:?}")]
    KeyNotFound {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("cannot read Secret {namespace}/{name}: {reason}")]
    Unreadable {
        namespace: String,
        name: String,
        reason: String,
    },
    #[error("{0}")]
    Client(String),
}

impl CredentialError {
    pub fn reason(&self) -> &'static str {
        match self {
            CredentialError::SecretNotFound { .. } => "SecretNotFound",
            CredentialError::KeyNotFound { .. } => "SecretKeyNotFound",
            CredentialError::Unreadable { .. } => "SecretUnreadable",
            CredentialError::Client(_) => "InvalidConfiguration",
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
                &config.api_key_secret_ref,
                &[
                    "certcentral",
                    &config.url,
                    config.ca_bundle.as_deref().unwrap_or(""),
                ],
                |api_key| {
                    CertCentralOrdersClient::with_observer(
                        CertCentralOrdersConfig {
                            base_url: config.url.clone(),
                            api_key: SecretString::from(api_key),
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
            AnyClient::Tlm(_) => Err(CredentialError::Client("issuer changed backend".into())),
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
                &tlm.api_key_secret_ref,
                &[&tlm.url, tlm.ca_bundle.as_deref().unwrap_or("")],
                |api_key| {
                    TlmClient::with_observer(
                        TlmClientConfig {
                            base_url: tlm.url.clone(),
                            api_key: SecretString::from(api_key),
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
            AnyClient::CertCentral(_) => Err(CredentialError::Client("issuer changed backend".into())),
        }
    }

    /// Reads the API key and reuses the issuer's client when nothing that shapes it changed
    /// (`shape`: the settings besides the key), else builds one with `build`.
    async fn refresh_any(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        secret: &SecretKeySelector,
        shape: &[&str],
        build: impl FnOnce(String) -> Result<AnyClient, CredentialError>,
    ) -> Result<Refreshed<AnyClient>, CredentialError> {
        let namespace = match key.kind {
            IssuerKind::Issuer => key.namespace.clone().unwrap_or_default(),
            IssuerKind::ClusterIssuer => self.config.cluster_issuer_namespace.clone(),
        };
        let api_key = read_secret_key(kube, &namespace, &secret.name, &secret.key).await?;
        let fingerprint = sha256_hex(format!("{}\n{}", shape.join("\n"), api_key).as_bytes());
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
        let client = build(api_key)?;
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

async fn read_secret_key(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String, CredentialError> {
    let api: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    let secret = match api.get_opt(name).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return Err(CredentialError::SecretNotFound {
                namespace: namespace.into(),
                name: name.into(),
            });
        }
        Err(e) => {
            return Err(CredentialError::Unreadable {
                namespace: namespace.into(),
                name: name.into(),
                reason: e.to_string(),
            });
        }
    };
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|ByteString(b)| String::from_utf8_lossy(b).trim().to_string())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|v| v.trim().to_string())
        })
        .filter(|v| !v.is_empty());
    value.ok_or_else(|| CredentialError::KeyNotFound {
        namespace: namespace.into(),
        name: name.into(),
        key: key.into(),
    })
}
