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

use crate::api::{IssuerKind, TlmIssuerConfig};
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

pub struct Refreshed {
    pub client: TlmClient,
    pub fingerprint: String,
}

struct Entry {
    client: TlmClient,
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
        {
            return Ok(entry.client.clone());
        }
        Ok(self.refresh(kube, key, tlm).await?.client)
    }

    /// Re-reads the Secret now and returns a client for what it holds, with a fingerprint of
    /// what shaped it (URL, CA bundle, API key) that changes when any of them does.
    pub async fn refresh(
        &self,
        kube: &kube::Client,
        key: &IssuerKey,
        tlm: &TlmIssuerConfig,
    ) -> Result<Refreshed, CredentialError> {
        let namespace = match key.kind {
            IssuerKind::Issuer => key.namespace.clone().unwrap_or_default(),
            IssuerKind::ClusterIssuer => self.config.cluster_issuer_namespace.clone(),
        };
        let api_key = read_secret_key(
            kube,
            &namespace,
            &tlm.api_key_secret_ref.name,
            &tlm.api_key_secret_ref.key,
        )
        .await?;
        let fingerprint = sha256_hex(
            format!(
                "{}\n{}\n{}",
                tlm.url,
                tlm.ca_bundle.as_deref().unwrap_or(""),
                api_key
            )
            .as_bytes(),
        );
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
        let client = TlmClient::with_observer(
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
        .map_err(|e| CredentialError::Client(e.to_string()))?;
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
