//! One scope's Certificate controller: the Certificate cache, the Secret digests, and what wakes
//! a Certificate (its own changes, its Secrets', its issuer's).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store, reflector};
use kube::runtime::{Config as ControllerConfig, Controller, WatchStreamExt, watcher};

use super::api_in;
use crate::api::{ClusterIssuer, Issuer, IssuerKind};
use crate::certificate;
use crate::certificate::cached::{CachedCertificate, State};
use crate::certificate::secret_cache::SecretDigests;
use crate::certificate::wakeups::{DueCertificates, Next, Wakeups};
use crate::context::{Context, ScopeCaches};
use crate::labels::{CERTIFICATE_NAME, OWNED_SECRET_SELECTOR};
use crate::metrics::{Metrics, StateLabels};

/// The watches of one scope's Certificates and owned Secrets. Their caches fill once the
/// controller (`run`) polls them.
pub struct CertificateWatches {
    pub certificates: Store<CachedCertificate>,
    pub secrets: SecretDigests,
    /// Sets each Certificate's next pass; `due` yields them when their time comes.
    pub wakeups: Wakeups,
    due: DueCertificates,
    certificate_refs: BoxStream<'static, ObjectRef<CachedCertificate>>,
    secret_events: BoxStream<'static, Result<Secret, watcher::Error>>,
}

/// The issuers the Certificates of a scope may reference, and their change streams.
pub struct IssuerFeeds {
    pub issuers: Store<Issuer>,
    pub cluster_issuers: Store<ClusterIssuer>,
    pub issuer_changes: ReflectHandle<Issuer>,
    pub cluster_issuer_changes: ReflectHandle<ClusterIssuer>,
}

impl CertificateWatches {
    pub fn new(client: &kube::Client, ns: Option<&str>) -> Self {
        // Only the certificate controller consumes Secret events, and it must see deletions (a
        // deleted Secret is re-created), which shared-store subscribers do not get.
        // The cache keeps digests, not Secrets: the objects pass through to the trigger below
        // and are dropped.
        let secrets = SecretDigests::default();
        let secret_events = watcher(
            api_in::<Secret>(client, ns),
            watcher::Config::default().labels(OWNED_SECRET_SELECTOR),
        )
        .default_backoff()
        .map_ok({
            let digests = secrets.clone();
            move |event| {
                digests.apply(&event);
                event
            }
        })
        .touched_objects()
        .boxed();
        let (wakeups, due) = Wakeups::channel();
        let (certificates, writer) = reflector::store::<CachedCertificate>();
        // A Certificate wakes itself by name alone: kube's own trigger would keep its UID and
        // resourceVersion in the scheduler too, twice, for each of 10,000 Certificates.
        let certificate_refs = reflector(
            writer,
            watcher(
                api_in::<CachedCertificate>(client, ns),
                watcher::Config::default(),
            )
            .default_backoff(),
        )
        .inspect_ok({
            let wakeups = wakeups.clone();
            move |event| {
                if let watcher::Event::Delete(cert) = event {
                    wakeups.set(
                        &cert.namespace().unwrap_or_default(),
                        &cert.name_any(),
                        Next::OnChange,
                    );
                }
            }
        })
        .applied_objects()
        .filter_map(|cert| futures::future::ready(cert.ok().map(|c| by_name(&c))))
        .boxed();
        Self {
            certificates,
            secrets,
            wakeups,
            due,
            certificate_refs,
            secret_events,
        }
    }

    /// The caches and the timers the reconciler reads and sets.
    pub fn caches(&self) -> ScopeCaches {
        ScopeCaches {
            secrets: self.secrets.clone(),
            certificates: self.certificates.clone(),
            wakeups: self.wakeups.clone(),
        }
    }

    /// The controller. It judges no Certificate before the issuers are known: an empty cache
    /// would read as "issuer not found". (A Secret missing from the cache is re-read before
    /// any write.)
    pub fn run(self, ctx: Arc<Context>, issuers: IssuerFeeds, workers: u16) -> BoxFuture<'static, ()> {
        let by_issuer = self.certificates.clone();
        let by_cluster_issuer = self.certificates.clone();
        let controller = Controller::for_stream(
            futures::stream::pending::<Result<CachedCertificate, watcher::Error>>(),
            self.certificates,
        )
        .with_config(ControllerConfig::default().concurrency(workers))
        .reconcile_on(self.certificate_refs)
        .reconcile_on(self.due)
        .watches_stream(self.secret_events, |secret: Secret| {
            let name = secret.labels().get(CERTIFICATE_NAME).cloned();
            let ns = secret.namespace();
            name.map(|n| ObjectRef::new(&n).within(&ns.unwrap_or_default()))
        })
        .watches_shared_stream(issuers.issuer_changes, move |issuer: Arc<Issuer>| {
            referencing(
                &by_issuer,
                IssuerKind::Issuer,
                issuer.namespace(),
                &issuer.name_any(),
            )
        })
        .watches_shared_stream(
            issuers.cluster_issuer_changes,
            move |issuer: Arc<ClusterIssuer>| {
                referencing(
                    &by_cluster_issuer,
                    IssuerKind::ClusterIssuer,
                    None,
                    &issuer.name_any(),
                )
            },
        )
        .shutdown_on_signal()
        .run(certificate::reconcile, certificate::error_policy, ctx)
        .for_each(|_| futures::future::ready(()));
        let (ir, cr) = (issuers.issuers, issuers.cluster_issuers);
        async move {
            let _ = futures::future::join(ir.wait_until_ready(), cr.wait_until_ready()).await;
            controller.await;
        }
        .boxed()
    }
}

/// A Certificate's reference without the UID and resourceVersion `ObjectRef::from_obj` keeps.
fn by_name(cert: &CachedCertificate) -> ObjectRef<CachedCertificate> {
    let r = ObjectRef::new(&cert.name_any());
    match cert.namespace() {
        Some(ns) => r.within(&ns),
        None => r,
    }
}

/// Certificates that reference the given issuer.
fn referencing(
    store: &Store<CachedCertificate>,
    kind: IssuerKind,
    namespace: Option<String>,
    name: &str,
) -> Vec<ObjectRef<CachedCertificate>> {
    store
        .state_filter(|c| {
            c.issuer_kind == kind
                && &*c.issuer_name == name
                && (namespace.is_none() || c.metadata.namespace == namespace)
        })
        .iter()
        .map(|c| by_name(c))
        .collect()
}

/// Keeps `tlm_operator_certificates{state}` current.
pub async fn certificate_gauges(stores: Vec<Store<CachedCertificate>>, metrics: Arc<Metrics>) {
    loop {
        let mut counts: HashMap<State, i64> = State::ALL.into_iter().map(|s| (s, 0)).collect();
        for store in &stores {
            for cert in store.state() {
                *counts.entry(cert.state).or_default() += 1;
            }
        }
        for (state, n) in counts {
            metrics
                .certificates
                .get_or_create(&StateLabels {
                    state: state.label().into(),
                })
                .set(n);
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Certificate;
    use crate::certificate::spec::tests::spec;

    #[test]
    fn a_certificate_wakes_by_name_alone() {
        let mut cert = Certificate::new("web", spec(&["web.example.com"]));
        cert.metadata.namespace = Some("apps".into());
        cert.metadata.uid = Some("uid-1".into());
        cert.metadata.resource_version = Some("42".into());
        let cached = CachedCertificate::pack(&cert).unwrap();
        let r = by_name(&cached);
        assert_eq!(r, ObjectRef::from_obj(&cached));
        assert_eq!((r.extra.uid, r.extra.resource_version), (None, None));
    }
}
