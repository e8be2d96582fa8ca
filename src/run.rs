//! `tlm-operator run`: wires the caches, controllers, probes, metrics and leader election.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context as _, Result};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store, reflector};
use kube::runtime::{Controller, WatchStreamExt, watcher};

use crate::api::{CTWatch, ClusterIssuer, Issuer};
use crate::certificate::keygen::KeyPool;
use crate::clients::http::HttpSettings;
use crate::clients::retry::RetryPolicy;
use crate::clients::throttle::ThrottleSettings;
use crate::context::{Context, OperatorConfig, Shared};
use crate::ctwatch::poller::{CtPoller, PollerConfig};
use crate::issuer::reconcile as issuer_reconcile;
use crate::leader::Leadership;
use crate::metrics::Metrics;
use crate::server::{self, Health};
use crate::telemetry::{self, LogFormat};
use certificates::{CertificateWatches, IssuerFeeds, certificate_gauges};
use governor::Quota;

mod certificates;

const SUBSCRIBE_BUFFER: usize = 1024;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Kubeconfig file; without it the usual inference applies ($KUBECONFIG, ~/.kube/config,
    /// in-cluster service account).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, env = "TLM_METRICS_BIND", default_value = "0.0.0.0:8080")]
    pub metrics_bind: SocketAddr,
    #[arg(long, env = "TLM_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax); RUST_LOG overrides it.
    #[arg(long, env = "TLM_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Compete for a Lease and reconcile only while holding it.
    #[arg(long, env = "TLM_LEADER_ELECT", default_value_t = false)]
    pub leader_elect: bool,
    #[arg(long, env = "TLM_LEASE_NAME", default_value = "tlm-operator")]
    pub lease_name: String,
    /// The operator's own namespace (Lease; default ClusterIssuer Secret namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "tlm-operator")]
    pub namespace: String,
    /// Namespace of ClusterIssuers' API key Secrets (default: --namespace).
    #[arg(long, env = "TLM_CLUSTER_ISSUER_NAMESPACE")]
    pub cluster_issuer_namespace: Option<String>,
    /// Identity in the Lease (default: POD_NAME, else hostname and PID).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Watch only these namespaces (comma separated); all when empty.
    #[arg(long, env = "TLM_WATCH_NAMESPACES", value_delimiter = ',')]
    pub watch_namespaces: Vec<String>,
    /// Most TLM requests per second, per Issuer. The rate adapts below it: see
    /// --issuer-adaptive-rate.
    #[arg(long, env = "TLM_ISSUER_RATE_LIMIT", default_value_t = NonZeroU32::new(100).expect("non-zero"))]
    pub issuer_rate_limit: NonZeroU32,
    /// Start each Issuer at --issuer-start-rate requests per second, grow while TLM answers
    /// well, halve on 429/5xx/timeouts. With false, every Issuer sends at --issuer-rate-limit.
    #[arg(long, env = "TLM_ISSUER_ADAPTIVE_RATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub issuer_adaptive_rate: bool,
    /// Where an adaptive rate starts (requests per second).
    #[arg(long, env = "TLM_ISSUER_START_RATE", default_value_t = NonZeroU32::new(20).expect("non-zero"))]
    pub issuer_start_rate: NonZeroU32,
    /// TLM request burst, per Issuer.
    #[arg(long, env = "TLM_ISSUER_BURST", default_value_t = NonZeroU32::new(40).expect("non-zero"))]
    pub issuer_burst: NonZeroU32,
    /// TLM requests in flight at once, per Issuer.
    #[arg(long, env = "TLM_ISSUER_CONCURRENCY", default_value_t = 16)]
    pub issuer_concurrency: usize,
    /// Certificates reconciled at once.
    #[arg(long, env = "TLM_WORKERS", default_value_t = 64)]
    pub workers: u16,
    /// Cert Spotter queries per hour for the whole operator.
    #[arg(long, env = "TLM_CERTSPOTTER_QUERIES_PER_HOUR", default_value_t = NonZeroU32::new(1000).expect("non-zero"))]
    pub certspotter_queries_per_hour: NonZeroU32,
    /// Poll every CTWatch at least this often whatever its interval (a Go duration such as
    /// `5s`; for demos and tests).
    #[arg(long, env = "TLM_CTWATCH_INTERVAL_CAP")]
    pub ctwatch_interval_cap: Option<kube::core::Duration>,
    /// How often each issued certificate's state in TLM is checked, so one revoked or
    /// suspended in TLM is re-issued (a Go duration; `0s` turns the checks off). The first
    /// checks after a start are spread over one interval.
    #[arg(long, env = "TLM_ISSUED_CHECK_INTERVAL", default_value = "6h")]
    pub issued_check_interval: kube::core::Duration,
    /// Threads generating RSA keys (default: one less than the machine's cores, at least one),
    /// served fairly between namespaces.
    #[arg(long, env = "TLM_KEYGEN_THREADS")]
    pub keygen_threads: Option<usize>,
    /// Also serve cert-manager CertificateRequests whose issuerRef.group is tlm.certops.dev
    /// (needs cert-manager's CRDs).
    #[arg(long, env = "TLM_CERT_MANAGER_ISSUER", default_value_t = false)]
    pub cert_manager_issuer: bool,
}

pub async fn run(args: RunArgs) -> Result<()> {
    telemetry::init(args.log_format, &args.log_level);
    let client = kube_client(args.kubeconfig.as_deref()).await?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    let server = tokio::spawn(server::serve(args.metrics_bind, metrics.clone(), health.clone()));

    let mut leadership = None;
    if args.leader_elect {
        let identity = args.identity.clone().unwrap_or_else(default_identity);
        let mut lease =
            Leadership::start(client.clone(), &args.namespace, &args.lease_name, &identity).await?;
        // A healthy standby is ready: it can take over.
        health.ready.store(true, Ordering::Relaxed);
        tracing::info!(%identity, lease = %args.lease_name, "waiting for leadership");
        tokio::select! {
            acquired = lease.acquired() => acquired?,
            _ = shutdown_signal() => {
                lease.release().await;
                return Ok(());
            }
        }
        tracing::info!(%identity, "leading");
        health.ready.store(false, Ordering::Relaxed);
        leadership = Some(lease);
    }

    let config = OperatorConfig {
        cluster_issuer_namespace: args
            .cluster_issuer_namespace
            .clone()
            .unwrap_or_else(|| args.namespace.clone()),
        tlm_throttle: ThrottleSettings {
            requests_per_second: args.issuer_rate_limit,
            start_per_second: args.issuer_adaptive_rate.then_some(args.issuer_start_rate),
            burst: args.issuer_burst,
            max_concurrency: args.issuer_concurrency,
        },
        tlm_retry: RetryPolicy::default(),
        tlm_http: HttpSettings::default(),
        issued_check_interval: Some(args.issued_check_interval.into()),
        keys: KeyPool::start(args.keygen_threads.unwrap_or_else(KeyPool::default_threads)),
    };
    let controllers = controllers(client, config, metrics, health, &args);
    let result = match &mut leadership {
        Some(lease) => {
            tokio::select! {
                r = controllers => r,
                _ = lease.lost() => {
                    tracing::error!("leadership lost; exiting so a fresh start competes again");
                    std::process::exit(1);
                }
            }
        }
        None => controllers.await,
    };
    if let Some(lease) = leadership {
        lease.release().await;
    }
    server.abort();
    tracing::info!("stopped");
    result
}

async fn kube_client(kubeconfig: Option<&std::path::Path>) -> Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("read {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    Ok(kube::Client::try_from(config)?)
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "tlm-operator".into());
    format!("{}-{}", host.trim(), std::process::id())
}

/// SIGTERM (kubelet) or SIGINT (a terminal).
async fn shutdown_signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
    tracing::info!("shutdown requested");
}

fn api_in<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Resolves once `store` holds its first complete list.
fn once_ready<K>(store: Store<K>) -> BoxFuture<'static, ()>
where
    K: kube::runtime::reflector::Lookup + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    async move {
        let _ = store.wait_until_ready().await;
    }
    .boxed()
}

async fn controllers(
    client: kube::Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    args: &RunArgs,
) -> Result<()> {
    let scopes: Vec<Option<String>> = if args.watch_namespaces.is_empty() {
        vec![None]
    } else {
        args.watch_namespaces.iter().map(|n| Some(n.clone())).collect()
    };
    let mut tasks: Vec<BoxFuture<'static, ()>> = Vec::new();
    let mut ready_waits: Vec<BoxFuture<'static, ()>> = Vec::new();
    let mut cert_stores = Vec::new();
    let mut watch_stores = Vec::new();
    let shared = Shared::new(&config, metrics.clone());

    // ClusterIssuers are cluster-wide: one watch, one controller, every scope subscribes.
    let (ci_reader, ci_writer) = reflector::store_shared::<ClusterIssuer>(SUBSCRIBE_BUFFER);
    let mut ci_subscribers = Vec::new();
    for _ in 0..=scopes.len() {
        ci_subscribers.push(ci_writer.subscribe().expect("shared store"));
    }
    tasks.push(
        watcher(
            Api::<ClusterIssuer>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .reflect_shared(ci_writer)
        .for_each(|_| futures::future::ready(()))
        .boxed(),
    );
    ready_waits.push(once_ready(ci_reader.clone()));

    for (i, scope) in scopes.iter().enumerate() {
        let ns = scope.as_deref();
        let certificates = CertificateWatches::new(&client, ns);
        let (watch_reader, watch_writer) = reflector::store::<CTWatch>();
        tasks.push(
            reflector(
                watch_writer,
                watcher(api_in::<CTWatch>(&client, ns), watcher::Config::default()).default_backoff(),
            )
            .for_each(|_| futures::future::ready(()))
            .boxed(),
        );
        ready_waits.push(once_ready(watch_reader.clone()));
        watch_stores.push(watch_reader);
        let (issuer_reader, issuer_writer) = reflector::store_shared::<Issuer>(SUBSCRIBE_BUFFER);
        let issuer_sub_certs = issuer_writer.subscribe().expect("shared store");
        let issuer_sub_ctrl = issuer_writer.subscribe().expect("shared store");
        tasks.push(
            watcher(api_in::<Issuer>(&client, ns), watcher::Config::default())
                .default_backoff()
                .reflect_shared(issuer_writer)
                .for_each(|_| futures::future::ready(()))
                .boxed(),
        );
        {
            let r = certificates.secrets.clone();
            ready_waits.push(
                async move {
                    let _ = r.wait_until_ready().await;
                }
                .boxed(),
            );
        }
        ready_waits.push(once_ready(issuer_reader.clone()));
        ready_waits.push(once_ready(certificates.certificates.clone()));
        cert_stores.push(certificates.certificates.clone());

        let ctx = Arc::new(Context::new(
            client.clone(),
            config.clone(),
            &shared,
            certificates.caches(),
            issuer_reader.clone(),
            ci_reader.clone(),
        ));
        tasks.push(certificates.run(
            ctx.clone(),
            IssuerFeeds {
                issuers: issuer_reader.clone(),
                cluster_issuers: ci_reader.clone(),
                issuer_changes: issuer_sub_certs,
                cluster_issuer_changes: ci_subscribers.pop().expect("one per scope"),
            },
            args.workers,
        ));

        if args.cert_manager_issuer {
            tasks.push(crate::certmanager::run(ctx.clone(), scope.clone()).boxed());
        }

        let issuer_controller = Controller::for_shared_stream(issuer_sub_ctrl, issuer_reader)
            .shutdown_on_signal()
            .run(
                issuer_reconcile::reconcile::<Issuer>,
                issuer_reconcile::error_policy::<Issuer>,
                ctx.clone(),
            )
            .for_each(|_| futures::future::ready(()));
        tasks.push(issuer_controller.boxed());

        if i == 0 {
            let ci_controller =
                Controller::for_shared_stream(ci_subscribers.pop().expect("one extra"), ci_reader.clone())
                    .shutdown_on_signal()
                    .run(
                        issuer_reconcile::reconcile::<ClusterIssuer>,
                        issuer_reconcile::error_policy::<ClusterIssuer>,
                        ctx.clone(),
                    )
                    .for_each(|_| futures::future::ready(()));
            tasks.push(ci_controller.boxed());
        }
    }

    tasks.push(certificate_gauges(cert_stores.clone(), metrics.clone()).boxed());
    let per_hour = args.certspotter_queries_per_hour;
    // A small burst: the hourly allowance is a rolling window, so spending it all at once would
    // leave nothing for the rest of the hour.
    let burst = NonZeroU32::new(per_hour.get().min(10)).expect("non-zero");
    let poller = CtPoller {
        client: client.clone(),
        watches: watch_stores,
        certificates: cert_stores,
        metrics: metrics.clone(),
        instance: std::env::var("POD_NAME").unwrap_or_else(|_| "tlm-operator".into()),
        quota: Quota::per_hour(per_hour).allow_burst(burst),
        config: PollerConfig {
            interval_cap: args.ctwatch_interval_cap.map(Into::into),
            http: HttpSettings::default(),
        },
    };
    tasks.push(poller.run().boxed());
    let health_for_ready = health.clone();
    tasks.push(
        async move {
            futures::future::join_all(ready_waits).await;
            health_for_ready.ready.store(true, Ordering::Relaxed);
            tracing::info!("caches synced; ready");
            futures::future::pending::<()>().await;
        }
        .boxed(),
    );
    // Controllers end on SIGTERM/SIGINT; the watches and helpers never end by themselves.
    futures::future::select_all(tasks).await;
    Ok(())
}
