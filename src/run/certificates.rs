//! One scope's Certificate controller: the Certificate cache, the Secret digests, and what wakes
//! a Certificate (its own changes, its Secrets', its issuer's).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store, reflector};
use kube::runtime::{Config as ControllerConfig, Controller, WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use super::api_in;
use crate::api::{Certificate, ClusterIssuer, Issuer, IssuerKind};
use crate::certificate;
use crate::certificate::secret_cache::SecretDigests;
use crate::certificate::wakeups::{DueCertificates, Next, Wakeups};
use crate::context::Context;
use crate::labels::{CERTIFICATE_NAME, OWNED_SECRET_SELECTOR};
use crate::metrics::{Metrics, StateLabels};

/// The watches of one scope's Certificates and owned Secrets. Their caches fill once the
/// controller (`run`) polls them.
pub struct CertificateWatches {
    pub certificates: Store<Certificate>,
    pub secrets: SecretDigests,
    /// Sets each Certificate's next pass; `due` yields them when their time comes.
    pub wakeups: Wakeups,
    due: DueCertificates,
    certificate_refs: BoxStream<'static, ObjectRef<Certificate>>,
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
        let (certificates, writer) = reflector::store::<Certificate>();
        // A Certificate wakes itself by name alone: kube's own trigger would keep its UID and
        // resourceVersion in the scheduler too, twice, for each of 10,000 Certificates.
        let certificate_refs = reflector(
            writer,
            watcher(api_in::<Certificate>(client, ns), watcher::Config::default())
                .default_backoff()
                .modify(trim_cached_certificate),
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

    /// The controller. It judges no Certificate before the issuers are known: an empty cache
    /// would read as "issuer not found". (A Secret missing from the cache is re-read before
    /// any write.)
    pub fn run(self, ctx: Arc<Context>, issuers: IssuerFeeds, workers: u16) -> BoxFuture<'static, ()> {
        let by_issuer = self.certificates.clone();
        let by_cluster_issuer = self.certificates.clone();
        let controller = Controller::for_stream(
            futures::stream::pending::<Result<Certificate, watcher::Error>>(),
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
fn by_name(cert: &Certificate) -> ObjectRef<Certificate> {
    let r = ObjectRef::new(&cert.name_any());
    match cert.namespace() {
        Some(ns) => r.within(&ns),
        None => r,
    }
}

/// What the Certificate cache keeps: no managed fields, labels or annotations. Nothing reads
/// a Certificate's labels or annotations (helm's and argo's are often a kilobyte), and the
/// writes made from a cached Certificate go to the status subresource, which takes only the
/// status and the resourceVersion precondition from the object sent; a finalizer patch sends
/// only finalizers and resourceVersion.
fn trim_cached_certificate(cert: &mut Certificate) {
    let meta = cert.meta_mut();
    meta.managed_fields = None;
    meta.labels = None;
    meta.annotations = None;
}

/// Certificates that reference the given issuer.
fn referencing(
    store: &Store<Certificate>,
    kind: IssuerKind,
    namespace: Option<String>,
    name: &str,
) -> Vec<ObjectRef<Certificate>> {
    store
        .state()
        .into_iter()
        .filter(|c| c.spec.issuer_ref.kind == kind && c.spec.issuer_ref.name == name)
        .filter(|c| namespace.is_none() || c.namespace() == namespace)
        .map(|c| by_name(&c))
        .collect()
}

/// Keeps `tlm_operator_certificates{state}` current.
pub async fn certificate_gauges(stores: Vec<Store<Certificate>>, metrics: Arc<Metrics>) {
    use crate::api::{ISSUING, READY, conditions};
    loop {
        let mut counts: HashMap<&'static str, i64> =
            [("ready", 0), ("issuing", 0), ("failed", 0), ("not_ready", 0)]
                .into_iter()
                .collect();
        for store in &stores {
            for cert in store.state() {
                let status = cert.status.clone().unwrap_or_default();
                let state = if status.failed_issuance_attempts.unwrap_or(0) > 0 {
                    "failed"
                } else if conditions::is_true(&status.conditions, ISSUING) {
                    "issuing"
                } else if conditions::is_true(&status.conditions, READY) {
                    "ready"
                } else {
                    "not_ready"
                };
                *counts.entry(state).or_default() += 1;
            }
        }
        for (state, n) in counts {
            metrics
                .certificates
                .get_or_create(&StateLabels { state: state.into() })
                .set(n);
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::spec::tests::spec;

    #[test]
    fn the_cache_keeps_what_reconciling_reads() {
        let mut cert = Certificate::new("web", spec(&["web.example.com"]));
        cert.metadata.namespace = Some("apps".into());
        cert.metadata.uid = Some("uid-1".into());
        cert.metadata.resource_version = Some("42".into());
        cert.metadata.finalizers = Some(vec!["f".into()]);
        cert.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        cert.metadata.annotations = Some([("note".to_string(), "x".repeat(1000))].into());
        cert.metadata.managed_fields = Some(vec![Default::default()]);
        let mut trimmed = cert.clone();
        trim_cached_certificate(&mut trimmed);
        assert_eq!(trimmed.spec, cert.spec);
        assert_eq!(trimmed.status, cert.status);
        assert_eq!(trimmed.finalizers(), cert.finalizers());
        assert_eq!(trimmed.resource_version(), cert.resource_version());
        assert_eq!(trimmed.uid(), cert.uid());
        assert!(trimmed.metadata.labels.is_none() && trimmed.metadata.annotations.is_none());
        assert!(trimmed.metadata.managed_fields.is_none());
        let r = by_name(&cert);
        assert_eq!(r, ObjectRef::from_obj(&cert));
        assert_eq!((r.extra.uid, r.extra.resource_version), (None, None));
    }
}
