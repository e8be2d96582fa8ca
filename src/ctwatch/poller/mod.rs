//! The one Cert Spotter poller of the operator. Every second it looks for groups of watches
//! that are due and starts their cycles: a group's domains are queried in batches of ten
//! (paging with `after`, within caps), what is new is judged for each watch, each watch's
//! status is written (cursor first, page by page where the group has one batch, so a restart
//! neither repeats nor misses), then Events and metrics are recorded.
//!
//! Sources are polled concurrently, each source and credential with its own throttle, and
//! every cycle has a deadline: a tenant's slow, throttled or hostile source delays only the
//! watches pointing at it, which are reported `Overdue`. The groups of one source take turns.
//!
//! Here: the tick and a group's cycle. `failures`: overdue and failed cycles; `status_writes`:
//! the status patches; `evidence`: the logged certificate's digest and Secret reads.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use governor::Quota;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use secrecy::SecretString;

use super::alert;
use super::classify::{WatchInput, classify};
use super::collect::{Collected, PageReader, collect};
use super::cycle_error::CycleError;
use super::keyindex::managed_keys;
use super::plan::{GroupKey, group, is_due, next_poll_in};
use super::sources::{SourceKey, SourceThrottles};
use super::status::{OVERDUE, after_failure, after_success, overdue_conditions};
use super::wait::{MAX_SERVICE_WAIT, ServiceWait, after};
use super::write_backoff::{WatchId, WriteBackoff};
use crate::api::{CTWatch, CTWatchStatus, JudgedIssuance, READY, Verdict, conditions};
use crate::certificate::cached::CachedCertificate;
use crate::clients::certcentral::CertCentralClient;
use crate::clients::certspotter::{CertSpotterClient, Issuance, IssuanceId};
use crate::clients::http::HttpSettings;
use crate::clients::retry::RetryPolicy;
use crate::labels::FIELD_MANAGER;
use crate::metrics::{Metrics, WatchLabels};
use crate::pki::{certs_from_pem, sha256_hex};

mod evidence;
mod failures;
mod status_writes;

use evidence::read_secret;

/// How long a group waits after a failure without `Retry-After`.
const FAILURE_RETRY: Duration = Duration::from_secs(60);
/// The shortest deadline of a cycle, so a short (capped) interval, or queries waiting for
/// the source's own quota, still let a cycle finish.
const MIN_CYCLE_DEADLINE: Duration = Duration::from_secs(60);

pub struct PollerConfig {
    /// Poll at least this often whatever `spec.interval` says (demos and tests).
    pub interval_cap: Option<Duration>,
    pub http: HttpSettings,
}

pub struct CtPoller {
    pub client: kube::Client,
    pub watches: Vec<Store<CTWatch>>,
    /// Managed keys are what Certificate status records (see `keyindex`).
    pub certificates: Vec<Store<CachedCertificate>>,
    pub metrics: Arc<Metrics>,
    /// `reportingInstance` of the Events.
    pub instance: String,
    /// The query allowance of each Cert Spotter source and credential (not shared: see
    /// `sources`).
    pub quota: Quota,
    pub config: PollerConfig,
}

/// The poller while it runs, shared by the cycles in flight.
struct Running {
    poller: CtPoller,
    sources: SourceThrottles,
    /// Sources with cycles in flight; they are not started again until those end.
    in_flight: Mutex<HashSet<SourceId>>,
    write_backoff: WriteBackoff,
}

/// A source as the watches name it: URL and token Secret reference.
type SourceId = (String, Option<(String, String, String)>);

fn source_id(key: &GroupKey) -> SourceId {
    (key.url.clone(), key.token.clone())
}

fn watch_id(watch: &CTWatch) -> WatchId {
    (watch.namespace().unwrap_or_default(), watch.name_any())
}

impl CtPoller {
    pub async fn run(self) {
        let running = Arc::new(Running {
            sources: SourceThrottles::new(self.quota),
            poller: self,
            in_flight: Mutex::new(HashSet::new()),
            write_backoff: WriteBackoff::default(),
        });
        loop {
            running.clone().tick().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

impl Running {
    async fn tick(self: Arc<Self>) {
        let now = Timestamp::now();
        let all: Vec<Arc<CTWatch>> = self.poller.watches.iter().flat_map(Store::state).collect();
        let live = all
            .iter()
            .map(|w| w.as_ref())
            .filter(|w| w.meta().deletion_timestamp.is_none());
        // One source's groups are polled one after another (they share its quota, and take
        // turns fairly); different sources concurrently, so none waits for another.
        let mut by_source: BTreeMap<SourceId, Vec<(GroupKey, Vec<CTWatch>)>> = BTreeMap::new();
        for (key, members) in group(live) {
            let due = members
                .iter()
                .any(|w| is_due(w, now) && !self.write_backoff.holds(&watch_id(w)));
            if due {
                let owned = members.into_iter().cloned().collect();
                by_source.entry(source_id(&key)).or_default().push((key, owned));
            }
        }
        for (source, groups) in by_source {
            if !self
                .in_flight
                .lock()
                .expect("in-flight lock")
                .insert(source.clone())
            {
                for (_, members) in &groups {
                    self.mark_overdue(members, now).await;
                }
                continue;
            }
            let running = self.clone();
            tokio::spawn(async move {
                for (key, owned) in groups {
                    let refs: Vec<&CTWatch> = owned.iter().collect();
                    let deadline = cycle_deadline(&refs, running.poller.config.interval_cap);
                    let started = Timestamp::now();
                    // A panic in one cycle is caught and counted: it must neither end the
                    // process nor leave this source marked in flight (silenced) for good.
                    let cycle = crate::supervise::catching(
                        "ctwatch",
                        &running.poller.metrics,
                        running.cycle(&key, &refs),
                        |_| (),
                    );
                    if tokio::time::timeout(deadline, cycle).await.is_err() {
                        let e = CycleError::new(
                            OVERDUE,
                            format!(
                                "Overdue since {started}: the source did not finish answering within {}s",
                                deadline.as_secs()
                            ),
                        );
                        running.fail_conditions(&refs, &e).await;
                    }
                }
                running.in_flight.lock().expect("in-flight lock").remove(&source);
            });
        }
    }

    /// One group's poll. A group with one batch of domains commits page by page (its cursor
    /// moves with every page); a larger group commits once its batches are read (within caps).
    async fn cycle(&self, key: &GroupKey, members: &[&CTWatch]) {
        // The statuses as this cycle wrote them: later commits and a failure build on these,
        // never on the (older) cached objects.
        let mut statuses: Vec<CTWatchStatus> = members
            .iter()
            .map(|w| w.status.clone().unwrap_or_default())
            .collect();
        let outcome = match self.source_client(key).await {
            Err(e) => Err(e),
            Ok(client) => match PageReader::single_batch(members) {
                Some(mut pages) => loop {
                    match pages.next(&client, key).await {
                        Ok(Some(page)) => {
                            let written = self.commit(key, members, &mut statuses, &page).await;
                            if !written || !page.truncated {
                                break Ok(());
                            }
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                },
                None => match collect(&client, key, members).await {
                    Ok(collected) => {
                        self.commit(key, members, &mut statuses, &collected).await;
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
            },
        };
        if let Err(e) = outcome {
            self.fail(members, &statuses, &e).await;
        }
    }

    async fn source_client(&self, key: &GroupKey) -> Result<CertSpotterClient, CycleError> {
        let token = match &key.token {
            Some((ns, name, item)) => Some(read_secret(&self.poller.client, ns, name, item).await?),
            None => None,
        };
        let throttle = self.sources.get(&SourceKey::new(&key.url, token.as_ref()));
        // A source still inside its Retry-After is not asked again (the watch keeps its
        // QuotaExceeded condition), and no cycle sleeps through the wait.
        if let Some(held) = throttle.held_for() {
            return Err(CycleError {
                reason: "QuotaExceeded",
                message: format!("the source asked to wait; {}s left", held.as_secs()),
                retry_after: ServiceWait::clamp(Some(held)),
            });
        }
        let http = HttpSettings {
            ca_bundle: key.ca_bundle.clone(),
            ..self.poller.config.http.clone()
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
            throttle,
            retry,
            self.poller.metrics.clone(),
        )
        .map_err(|e| CycleError::new("InvalidSource", e.to_string()))
    }

    /// Judges what `collected` holds for each member, writes each status (updating
    /// `statuses`), then records Events and metrics. False when a status write failed: the
    /// cycle stops there, and the next one starts from the cursors written.
    async fn commit(
        &self,
        key: &GroupKey,
        members: &[&CTWatch],
        statuses: &mut [CTWatchStatus],
        collected: &Collected,
    ) -> bool {
        let managed = managed_keys(&self.poller.certificates);
        let inputs: Vec<WatchInput<'_>> = members
            .iter()
            .zip(statuses.iter())
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
        let note = collected.retry_after.clamp_note();
        let mut written = Vec::with_capacity(members.len());
        let mut all_written = true;
        for ((watch, status), mut judged) in members.iter().zip(statuses.iter()).zip(by_watch) {
            for entry in judged.iter_mut().filter(|j| j.verdict == Verdict::Unexpected) {
                if let Some(issuance) = collected.issuances.get(&IssuanceId(entry.id.clone())) {
                    entry.evidence_sha256 = self.evidence(watch, issuance).await;
                }
            }
            // More to read (the next page, or the next cycle after a cap): due at once.
            let next = if collected.truncated {
                Duration::ZERO
            } else {
                next_poll_in(watch, self.poller.config.interval_cap, collected.retry_after.wait)
            };
            let now = Timestamp::now();
            let new = after_success(
                status,
                &judged,
                collected.end.clone(),
                now,
                after(now, next),
                watch.spec.recent_limit as usize,
                watch.meta().generation,
                note.as_deref(),
            );
            // Status (with the cursor) first: if the process dies now, nothing is judged twice.
            if !self.write_status(watch, status, &new).await {
                written.push(None);
                all_written = false;
                continue;
            }
            written.push(Some(new));
            let labels = WatchLabels {
                namespace: watch.namespace().unwrap_or_default(),
                name: watch.name_any(),
            };
            let unexpected: Vec<&JudgedIssuance> = judged
                .iter()
                .filter(|j| j.verdict == Verdict::Unexpected)
                .collect();
            for entry in &unexpected {
                self.poller
                    .metrics
                    .unexpected_issuances
                    .get_or_create(&labels)
                    .inc();
                tracing::warn!(watch = %watch.name_any(), namespace = ?watch.namespace(), id = %entry.id, "unexpected issuance");
            }
            let (each, rest) = unexpected.split_at(unexpected.len().min(alert::MAX_EVENTS_PER_COMMIT));
            let mut events: Vec<_> = each
                .iter()
                .map(|entry| alert::unexpected_issuance_event(watch, entry, &self.poller.instance))
                .collect();
            if !rest.is_empty() {
                events.push(alert::more_unexpected_event(watch, rest, &self.poller.instance));
            }
            for event in &events {
                if let Err(e) = alert::publish(&self.poller.client, event).await {
                    tracing::warn!(error = %e, "could not record event");
                }
            }
        }
        for (status, new) in statuses.iter_mut().zip(written) {
            if let Some(new) = new {
                *status = new;
            }
        }
        all_written
    }
}

/// How long one cycle of a group may take: its shortest (capped) interval, so a slow source
/// cannot keep its watches' status stale for longer, but never so short a cycle cannot finish.
fn cycle_deadline(members: &[&CTWatch], cap: Option<Duration>) -> Duration {
    members
        .iter()
        .map(|w| next_poll_in(w, cap, None))
        .min()
        .unwrap_or(MIN_CYCLE_DEADLINE)
        .clamp(MIN_CYCLE_DEADLINE, MAX_SERVICE_WAIT)
}
