//! What every reconcile shares: the Kubernetes client, caches, TLM clients, metrics, Events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::Store;

use crate::api::{ClusterIssuer, Issuer};
use crate::backend::chain_roots::ChainRoots;
use crate::backend::registry::{ClientRegistry, ClientSettings};
use crate::certificate::cached::CachedCertificate;
use crate::certificate::secret_cache::SecretDigests;
use crate::certificate::wakeups::Wakeups;
use crate::clients::http::HttpSettings;
use crate::clients::retry::RetryPolicy;
use crate::clients::throttle::ThrottleSettings;
use crate::events::{EventNote, EventPublisher, Reporter};
use crate::metrics::Metrics;

/// Operator-wide settings from the command line.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// Namespace holding ClusterIssuers' API key Secrets.
    pub cluster_issuer_namespace: String,
    pub tlm_throttle: ThrottleSettings,
    pub tlm_retry: RetryPolicy,
    pub tlm_http: HttpSettings,
    /// How often an issued certificate's state in TLM is checked (None: never).
    pub issued_check_interval: Option<std::time::Duration>,
    /// The RSA key threads, shared by every scope of the process.
    pub keys: crate::certificate::keygen::KeyPool,
}

impl OperatorConfig {
    /// What the client registry needs of the command line.
    pub fn client_settings(&self) -> ClientSettings {
        ClientSettings {
            cluster_issuer_namespace: self.cluster_issuer_namespace.clone(),
            http: self.tlm_http.clone(),
            throttle: self.tlm_throttle,
            retry: self.tlm_retry,
        }
    }
}

/// What every scope (watched namespace) of the process shares: one client, and so one request
/// budget, per Issuer and ClusterIssuer however many namespaces are watched.
#[derive(Clone)]
pub struct Shared {
    pub metrics: Arc<Metrics>,
    pub registry: Arc<ClientRegistry>,
    pub chain_roots: Arc<ChainRoots>,
}

impl Shared {
    pub fn new(config: &OperatorConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            registry: Arc::new(ClientRegistry::new(config.client_settings(), metrics.clone())),
            metrics,
            chain_roots: Default::default(),
        }
    }
}

pub struct Context {
    pub client: kube::Client,
    pub config: OperatorConfig,
    pub registry: Arc<ClientRegistry>,
    pub metrics: Arc<Metrics>,
    pub events: EventPublisher,
    /// Digests of the Secrets the operator owns (selected by label).
    pub secrets: SecretDigests,
    pub issuers: Store<Issuer>,
    pub cluster_issuers: Store<ClusterIssuer>,
    /// The Certificates in this scope (who else uses a Secret name).
    pub certificates: Store<CachedCertificate>,
    pub memory: IssuanceMemory,
    pub issuer_checks: crate::issuer::checks::CheckMemory,
    pub issued_checks: crate::certificate::issued_checks::IssuedChecks,
    /// Each Certificate's next pass.
    pub wakeups: Wakeups,
    pub chain_roots: Arc<ChainRoots>,
}

/// What one scope's Certificate watches keep and feed.
pub struct ScopeCaches {
    pub secrets: SecretDigests,
    pub certificates: Store<CachedCertificate>,
    pub wakeups: Wakeups,
}

impl Context {
    pub fn new(
        client: kube::Client,
        config: OperatorConfig,
        shared: &Shared,
        scope: ScopeCaches,
        issuers: Store<Issuer>,
        cluster_issuers: Store<ClusterIssuer>,
    ) -> Self {
        let ScopeCaches {
            secrets,
            certificates,
            wakeups,
        } = scope;
        let reporter = Reporter {
            controller: "tlm-operator".into(),
            instance: std::env::var("POD_NAME").unwrap_or_else(|_| "tlm-operator".into()),
        };
        Self {
            events: EventPublisher::new(client.clone(), reporter),
            registry: shared.registry.clone(),
            client,
            metrics: shared.metrics.clone(),
            secrets,
            issuers,
            cluster_issuers,
            certificates,
            memory: IssuanceMemory::default(),
            issuer_checks: Default::default(),
            issued_checks: crate::certificate::issued_checks::IssuedChecks::new(config.issued_check_interval),
            wakeups,
            chain_roots: shared.chain_roots.clone(),
            config,
        }
    }
}

impl Context {
    /// Records an Event on an object; a failure to record is logged, never fatal.
    pub async fn publish_event(
        &self,
        object: &k8s_openapi::api::core::v1::ObjectReference,
        warning: bool,
        action: &str,
        reason: &str,
        note: String,
    ) {
        let event = EventNote {
            warning,
            action,
            reason,
            note,
        };
        if let Err(e) = self.events.publish(object, event).await {
            tracing::warn!(error = %e, "could not record event");
        }
    }
}

/// What this process remembers about issuances in flight, by Certificate UID. Lost on restart,
/// which is safe: its absence only makes the controller more careful (it searches TLM before
/// submitting with a key it did not create, and polls at once).
#[derive(Default)]
pub struct IssuanceMemory {
    inner: Mutex<HashMap<String, CertMemory>>,
}

#[derive(Default, Clone, Debug)]
pub struct CertMemory {
    /// SHA-256 of the SPKI of a next key this process generated.
    pub key_created_here: Option<String>,
    /// A submit with that key was sent and its outcome is unknown.
    pub maybe_submitted: bool,
    pub last_poll: Option<Timestamp>,
    /// A certificate TLM returned with the submit response, by serial.
    pub delivered: Option<(String, String)>,
    /// Consecutive transient failures, for the requeue backoff.
    pub transient_failures: u32,
}

impl CertMemory {
    /// Holds nothing about an issuance (a failure count alone is not kept past an idle pass).
    pub fn is_empty_but_for_failures(&self) -> bool {
        self.key_created_here.is_none()
            && !self.maybe_submitted
            && self.last_poll.is_none()
            && self.delivered.is_none()
    }
}

impl IssuanceMemory {
    pub fn get(&self, uid: &str) -> CertMemory {
        self.inner
            .lock()
            .expect("memory lock")
            .get(uid)
            .cloned()
            .unwrap_or_default()
    }

    pub fn update(&self, uid: &str, f: impl FnOnce(&mut CertMemory)) {
        let mut map = self.inner.lock().expect("memory lock");
        f(map.entry(uid.to_string()).or_default());
    }

    pub fn forget(&self, uid: &str) {
        self.inner.lock().expect("memory lock").remove(uid);
    }
}
