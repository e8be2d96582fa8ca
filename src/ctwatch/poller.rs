//! The one Cert Spotter poller of the operator. Every second it looks for groups of watches
//! that are due, queries their domains in batches of ten (paging with `after` until an empty
//! page), judges what is new for each watch, writes each watch's status (cursor first, so a
//! restart neither repeats nor misses), then records Events and metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use secrecy::SecretString;

use super::classify::{WatchInput, classify};
use super::keyindex::ManagedKeyIndex;
use super::plan::{GroupKey, batches, group, is_due, next_poll_in, start_after};
use super::status::{after_failure, after_success};
use crate::api::{CTWatch, CTWatchStatus, Verdict};
use crate::clients::certcentral::CertCentralClient;
use crate::clients::certspotter::{CertSpotterClient, Issuance, IssuanceId, IssuanceQuery, id_order};
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::http::HttpSettings;
use crate::clients::retry::RetryPolicy;
use crate::clients::throttle::Throttle;
use crate::labels::FIELD_MANAGER;
use crate::metrics::{Metrics, WatchLabels};
use crate::pki::{certs_from_pem, sha256_hex};

/// Pages one batch may take in one cycle; the rest waits for the next cycle.
const MAX_PAGES_PER_BATCH: usize = 1000;
/// How long a group waits after a failure without `Retry-After`.
const FAILURE_RETRY: Duration = Duration::from_secs(60);

pub struct PollerConfig {
    /// Poll at least this often whatever `spec.interval` says (demos and tests).
    pub interval_cap: Option<Duration>,
    pub http: HttpSettings,
}

pub struct CtPoller {
    pub client: kube::Client,
    pub watches: Vec<Store<CTWatch>>,
    pub secrets: Vec<Store<Secret>>,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    /// One token bucket for every Cert Spotter query the operator makes.
    pub quota: Arc<Throttle>,
    pub config: PollerConfig,
    pub keys: ManagedKeyIndex,
}

/// Why a cycle failed, as a condition reason.
struct CycleError {
    reason: &'static str,
    message: String,
    retry_after: Option<Duration>,
}

impl CycleError {
    fn from_service(e: &ServiceError) -> Self {
        let reason = match (e.class(), e.status()) {
            (_, Some(429)) => "QuotaExceeded",
            (ErrorClass::Auth, _) => "Unauthorized",
            (ErrorClass::Transient, _) => "Unreachable",
            (ErrorClass::InvalidInput, _) => "InvalidQuery",
            (ErrorClass::UnexpectedBody, _) => "UnexpectedResponse",
            _ => "SourceError",
        };
        Self {
            reason,
            message: e.to_string(),
            retry_after: e.retry_after(),
        }
    }
}

/// What a successful cycle collected for a group.
struct Collected {
    /// Every issuance returned, by id, ascending.
    issuances: BTreeMap<IssuanceId, Issuance>,
    /// Every batch was read up to here.
    end: Option<String>,
    retry_after: Option<Duration>,
}

impl CtPoller {
    pub async fn run(self) {
        loop {
            self.tick().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn tick(&self) {
        let now = Timestamp::now();
        let all: Vec<Arc<CTWatch>> = self.watches.iter().flat_map(Store::state).collect();
        let live: Vec<&CTWatch> = all
            .iter()
            .map(|w| w.as_ref())
            .filter(|w| w.meta().deletion_timestamp.is_none())
            .collect();
        for (key, members) in group(live) {
            if members.iter().any(|w| is_due(w, now)) {
                self.cycle(&key, &members).await;
            }
        }
    }

    async fn cycle(&self, key: &GroupKey, members: &[&CTWatch]) {
        let outcome = match self.source_client(key).await {
            Ok(client) => self.collect(&client, key, members).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(collected) => self.commit(key, members, collected).await,
            Err(e) => {
                tracing::warn!(reason = e.reason, error = %e.message, watches = members.len(), "CT poll failed");
                for watch in members {
                    let wait = next_poll_in(watch, self.config.interval_cap, e.retry_after)
                        .min(FAILURE_RETRY.max(e.retry_after.unwrap_or_default()));
                    let status = watch.status.clone().unwrap_or_default();
                    let new = after_failure(
                        &status,
                        e.reason,
                        e.message.clone(),
                        Timestamp::now(),
                        at(wait),
                        watch.meta().generation,
                    );
                    self.write_status(watch, &status, &new).await;
                }
            }
        }
    }

    async fn source_client(&self, key: &GroupKey) -> Result<CertSpotterClient, CycleError> {
        let token = match &key.token {
            Some((ns, name, item)) => Some(read_secret(&self.client, ns, name, item).await?),
            None => None,
        };
        let http = HttpSettings {
            ca_bundle: key.ca_bundle.clone(),
            ..self.config.http.clone()
        };
        // A 429 goes back to the poller at once: the watch reports QuotaExceeded and the next
        // poll is scheduled after Retry-After, instead of a worker sleeping through it.
        let retry = RetryPolicy {
            max_inline_wait: Duration::ZERO,
            ..RetryPolicy::default()
        };
        CertSpotterClient::new(
            &key.url,
            token.as_ref(),
            &http,
            self.quota.clone(),
            retry,
            self.metrics.clone(),
        )
        .map_err(|e| CycleError {
            reason: "InvalidSource",
            message: e.to_string(),
            retry_after: None,
        })
    }

    /// Reads every batch to its end. Batches that ended before the furthest one are read once
    /// more from their end: an issuance discovered while the cycle ran must not fall between a
    /// batch's end and the cursor the cycle records. An empty re-read proves the batch has
    /// nothing up to the furthest end.
    async fn collect(
        &self,
        client: &CertSpotterClient,
        key: &GroupKey,
        members: &[&CTWatch],
    ) -> Result<Collected, CycleError> {
        let start = start_after(members);
        let mut collected = Collected {
            issuances: BTreeMap::new(),
            end: start.clone(),
            retry_after: None,
        };
        let mut ends: Vec<(Vec<String>, Option<String>)> = Vec::new();
        for batch in batches(members) {
            let end = self
                .read_batch(client, key, &batch, start.clone(), &mut collected)
                .await?;
            ends.push((batch, end));
        }
        for _ in 0..3 {
            let furthest = ends
                .iter()
                .filter_map(|(_, e)| e.clone())
                .max_by(|a, b| id_order(a, b));
            let mut lagging = false;
            for (batch, end) in ends.iter_mut() {
                if *end == furthest {
                    continue;
                }
                lagging = true;
                let reread = self
                    .read_batch(client, key, batch, end.clone(), &mut collected)
                    .await?;
                *end = [reread, furthest.clone()]
                    .into_iter()
                    .flatten()
                    .max_by(|a, b| id_order(a, b));
            }
            collected.end = furthest;
            if !lagging {
                break;
            }
        }
        collected.end = ends
            .iter()
            .filter_map(|(_, e)| e.clone())
            .min_by(|a, b| id_order(a, b))
            .or(collected.end);
        Ok(collected)
    }

    async fn read_batch(
        &self,
        client: &CertSpotterClient,
        key: &GroupKey,
        domains: &[String],
        mut after: Option<String>,
        collected: &mut Collected,
    ) -> Result<Option<String>, CycleError> {
        for _ in 0..MAX_PAGES_PER_BATCH {
            let query = IssuanceQuery {
                domains: domains.to_vec(),
                include_subdomains: key.include_subdomains,
                match_wildcards: key.match_wildcards,
                expand_cert: key.expand_cert,
                after: after.clone(),
            };
            let page = client
                .issuances(&query)
                .await
                .map_err(|e| CycleError::from_service(&e))?;
            let Some(last) = page.issuances.last().map(|i| i.id.clone()) else {
                collected.retry_after = collected.retry_after.max(page.retry_after);
                return Ok(after);
            };
            for issuance in page.issuances {
                collected
                    .issuances
                    .insert(IssuanceId(issuance.id.clone()), issuance);
            }
            after = Some(last);
        }
        Ok(after)
    }

    async fn commit(&self, key: &GroupKey, members: &[&CTWatch], collected: Collected) {
        let managed = self.keys.keys(&self.secrets);
        let statuses: Vec<CTWatchStatus> = members
            .iter()
            .map(|w| w.status.clone().unwrap_or_default())
            .collect();
        let inputs: Vec<WatchInput<'_>> = members
            .iter()
            .zip(&statuses)
            .map(|(w, status)| WatchInput {
                spec: &w.spec,
                status,
                created: w.meta().creation_timestamp.as_ref().map(|t| t.0),
            })
            .collect();
        let issuances: Vec<&Issuance> = collected.issuances.values().collect();
        let by_watch = classify(
            &issuances,
            collected.end.as_deref(),
            &inputs,
            key.include_subdomains,
            key.match_wildcards,
            &managed,
        );
        for ((watch, status), mut judged) in members.iter().zip(&statuses).zip(by_watch) {
            for entry in judged.iter_mut().filter(|j| j.verdict == Verdict::Unexpected) {
                if let Some(issuance) = collected.issuances.get(&IssuanceId(entry.id.clone())) {
                    entry.evidence_sha256 = self.evidence(watch, issuance).await;
                }
            }
            let next = next_poll_in(watch, self.config.interval_cap, collected.retry_after);
            let new = after_success(
                status,
                &judged,
                collected.end.clone(),
                Timestamp::now(),
                at(next),
                watch.spec.recent_limit as usize,
                watch.meta().generation,
            );
            // Status (with the cursor) first: if the process dies now, nothing is judged twice.
            if !self.write_status(watch, status, &new).await {
                continue;
            }
            let labels = WatchLabels {
                namespace: watch.namespace().unwrap_or_default(),
                name: watch.name_any(),
            };
            for entry in judged.iter().filter(|j| j.verdict == Verdict::Unexpected) {
                self.metrics.unexpected_issuances.get_or_create(&labels).inc();
                let note = format!(
                    "Certificate for {} issued by {} (not before {}, Cert Spotter id {}) was not requested by this cluster",
                    entry.dns_names.join(", "),
                    entry.issuer.as_deref().unwrap_or("an unknown issuer"),
                    entry.not_before.as_deref().unwrap_or("unknown"),
                    entry.id
                );
                tracing::warn!(watch = %watch.name_any(), namespace = ?watch.namespace(), id = %entry.id, "unexpected issuance");
                let event = Event {
                    type_: EventType::Warning,
                    reason: "UnexpectedIssuance".into(),
                    note: Some(note),
                    action: "Judge".into(),
                    secondary: None,
                };
                if let Err(e) = self.recorder.publish(&event, &watch.object_ref(&())).await {
                    tracing::warn!(error = %e, "could not record event");
                }
            }
        }
    }

    /// For an unexpected issuance from the configured issuer: download the logged certificate
    /// from CertCentral's CT monitor and return its SHA-256. Failures only log.
    async fn evidence(&self, watch: &CTWatch, issuance: &Issuance) -> Option<String> {
        let spec = watch.spec.digicert_evidence.as_ref()?;
        let issuer = issuance.issuer.as_ref()?.name.clone()?;
        if !issuer
            .to_ascii_lowercase()
            .contains(&spec.issuer_contains.to_ascii_lowercase())
        {
            return None;
        }
        let serial = crate::clients::certcentral::ct_monitor_serial(&serial_of(issuance)?);
        let issuer = crate::clients::certcentral::ct_monitor_issuer(&issuer)?;
        let ns = watch.namespace().unwrap_or_default();
        let fetched = async {
            let key = read_secret(
                &self.client,
                &ns,
                &spec.api_key_secret_ref.name,
                &spec.api_key_secret_ref.key,
            )
            .await
            .map_err(|e| e.message)?;
            let http = HttpSettings {
                ca_bundle: spec.ca_bundle.clone(),
                ..self.config.http.clone()
            };
            let client = CertCentralClient::new(&spec.url, &key, &http, self.metrics.clone())
                .map_err(|e| e.to_string())?;
            let pem = client
                .ct_cert_pem(&spec.order_id, &serial, &issuer)
                .await
                .map_err(|e| e.to_string())?;
            let der = certs_from_pem(&pem).map_err(|e| e.to_string())?;
            Ok::<String, String>(sha256_hex(&der[0]))
        };
        match fetched.await {
            Ok(hash) => Some(hash),
            Err(e) => {
                tracing::warn!(watch = %watch.name_any(), id = %issuance.id, error = %e, "evidence download failed");
                None
            }
        }
    }

    /// Writes the status when it changed; false when the write failed.
    async fn write_status(&self, watch: &CTWatch, old: &CTWatchStatus, new: &CTWatchStatus) -> bool {
        if old == new {
            return true;
        }
        let api: Api<CTWatch> = Api::namespaced(self.client.clone(), &watch.namespace().unwrap_or_default());
        let patch = serde_json::json!({ "status": new });
        match api
            .patch_status(
                &watch.name_any(),
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(watch = %watch.name_any(), error = %e, "could not write CTWatch status");
                false
            }
        }
    }
}

fn at(after: Duration) -> Timestamp {
    Timestamp::now() + SignedDuration::try_from(after).unwrap_or(SignedDuration::MAX)
}

/// Serial number (upper-case hex) of the issuance's certificate, when it was expanded.
fn serial_of(issuance: &Issuance) -> Option<String> {
    let data = issuance.cert.as_ref()?.data.as_ref()?;
    let der = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
    crate::pki::LeafInfo::parse(&der).ok().map(|leaf| leaf.serial_hex)
}

async fn read_secret(
    client: &kube::Client,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<SecretString, CycleError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let not_found = |what: String| CycleError {
        reason: "TokenSecretNotFound",
        message: what,
        retry_after: None,
    };
    let secret = api
        .get_opt(name)
        .await
        .map_err(|e| CycleError {
            reason: "TokenSecretUnreadable",
            message: format!("Secret {ns}/{name}: {e}"),
            retry_after: None,
        })?
        .ok_or_else(|| not_found(format!("Secret {ns}/{name} not found")))?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|ByteString(b)| String::from_utf8_lossy(b).trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| not_found(format!("Secret {ns}/{name} has no key {key:?}")))?;
    Ok(SecretString::from(value))
}
