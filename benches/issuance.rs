//! Issuance benchmark: N Certificates created at once against a real kube-apiserver and tlm-sim
//! with immediate issuance. Prints wall time to all Ready, p50/p99 time-to-Ready, certificates
//! per second, API-server writes per certificate (from the apiserver's own
//! `apiserver_request_total`), peak RSS of the operator and writes during a steady-state window.
//!
//! `cargo bench --bench issuance -- [--certs N] [--steady-secs S] [--key ECDSA|RSA] [--flags default|tuned]`
//!
//! `--flags default` runs the operator with the flags a user gets (no rate flags at all);
//! `tuned` (the default here) lifts the per-Issuer limits so the operator itself is measured.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use testkit::{ControlPlane, OperatorProcess, install_crds, unique_namespace};
use tlm_operator::api::{Certificate, Issuer, conditions};
use tokio::sync::Mutex;

struct Args {
    certs: usize,
    steady_secs: u64,
    key: String,
    flags: String,
}

/// The operator flags behind each `--flags` choice (besides `--namespace`).
fn operator_flags(choice: &str) -> Result<Vec<String>> {
    match choice {
        "default" => Ok(Vec::new()),
        "tuned" => Ok([
            "--issuer-rate-limit",
            "100000",
            "--issuer-adaptive-rate=false",
            "--issuer-burst",
            "100000",
            "--issuer-concurrency",
            "64",
            "--workers",
            "256",
        ]
        .map(String::from)
        .to_vec()),
        other => bail!("--flags {other}: expected default or tuned"),
    }
}

/// What the numbers were measured on, read from the machine rather than assumed.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs, {model}")
}

fn args() -> Args {
    let mut a = Args {
        certs: 200,
        steady_secs: 60,
        key: "ECDSA".into(),
        flags: "tuned".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--certs" => a.certs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.certs),
            "--steady-secs" => {
                a.steady_secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.steady_secs)
            }
            "--key" => a.key = it.next().unwrap_or(a.key),
            "--flags" => a.flags = it.next().unwrap_or(a.flags),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

/// Write requests (POST/PUT/PATCH/DELETE) the apiserver counted, by resource[/subresource] and verb.
async fn apiserver_writes(client: &kube::Client) -> Result<BTreeMap<String, f64>> {
    let text = client
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await?;
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("apiserver_request_total{")) {
        let (labels, value) = line.rsplit_once(' ').context("metric line")?;
        let get = |name: &str| {
            labels
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string()
        };
        let verb = get("verb");
        if !matches!(
            verb.as_str(),
            "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY" | "CREATE" | "UPDATE"
        ) {
            continue;
        }
        let sub = get("subresource");
        let key = if sub.is_empty() {
            format!("{} {}", get("resource"), verb)
        } else {
            format!("{}/{} {}", get("resource"), sub, verb)
        };
        *out.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    Ok(out)
}

fn diff(after: &BTreeMap<String, f64>, before: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect()
}

/// Writes to the kinds the operator writes (the apiserver keeps its own Lease and endpoints).
/// The apiserver's write counts once the operator has written nothing for two polls in a row
/// (two seconds apart; at most a minute).
async fn settled_writes(client: &kube::Client) -> Result<BTreeMap<String, f64>> {
    let mut last = apiserver_writes(client).await?;
    let mut quiet = 0;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = apiserver_writes(client).await?;
        quiet = if operator_only(&diff(&now, &last)) == 0.0 {
            quiet + 1
        } else {
            0
        };
        last = now;
        if quiet == 2 {
            break;
        }
    }
    Ok(last)
}

fn operator_only(writes: &BTreeMap<String, f64>) -> f64 {
    const KINDS: [&str; 6] = [
        "certificates",
        "secrets",
        "events",
        "issuers",
        "clusterissuers",
        "ctwatches",
    ];
    writes
        .iter()
        .filter(|(k, _)| KINDS.iter().any(|kind| k.split(['/', ' ']).next() == Some(kind)))
        .map(|(_, v)| v)
        .sum()
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    status_mib(pid, "VmHWM:")
}

/// A `/proc/<pid>/status` field in MiB (`VmHWM`: peak resident; `RssFile`: file pages resident
/// now, mostly the binary's code and read-only data, and libc's).
fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// User + system CPU seconds the process has used.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks / per_second as f64)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = args();
    let cp = ControlPlane::start().await?;
    let client = cp.client().await?;
    install_crds(&client).await?;
    let ns = unique_namespace(&client, "bench").await?;
    let sim = tlm_sim::Sim::start(tlm_sim::SimOptions::default()).await?;

    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tlm-api-key", "namespace": ns},
        "stringData": {"api-key": "test-api-key"}
    }))?;
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await?;
    let issuer: Issuer = serde_json::from_value(json!({
        "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Issuer", "metadata": {"name": "tlm", "namespace": ns},
        "spec": {"tlm": {"url": sim.url(), "profileId": "prof-x509", "apiKeySecretRef": {"name": "tlm-api-key", "key": "api-key"}}}
    }))?;
    Api::<Issuer>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &issuer)
        .await?;

    let log = cp.dir().join("bench-operator.log");
    let flags = operator_flags(&args.flags)?;
    let mut op_args = vec!["--namespace".to_string(), ns.clone()];
    op_args.extend(flags.iter().cloned());
    let mut op = OperatorProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_tlm-operator")),
        cp.kubeconfig_path(),
        &log,
        &op_args,
        &[("RUST_LOG", "warn")],
    )?;
    op.wait_ready(Duration::from_secs(60)).await?;
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), &ns);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let i = issuers.get("tlm").await?;
        if i.status
            .as_ref()
            .is_some_and(|s| conditions::is_true(&s.conditions, "Ready"))
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("issuer not ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let certs: Api<Certificate> = Api::namespaced(client.clone(), &ns);
    let created_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let ready_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    // Watch from before the first create so no Ready transition is missed.
    let watch_ready = ready_at.clone();
    let watch_certs = certs.clone();
    let total = args.certs;
    let watch = tokio::spawn(async move {
        let mut stream = watcher(watch_certs, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Some(Ok(cert)) = stream.next().await {
            let ready = cert
                .status
                .as_ref()
                .is_some_and(|s| conditions::is_true(&s.conditions, "Ready") && s.revision.is_some());
            if ready {
                let mut map = watch_ready.lock().await;
                map.entry(cert.metadata.name.clone().unwrap_or_default())
                    .or_insert_with(Instant::now);
                if map.len() >= total {
                    return;
                }
            }
        }
    });

    let writes_before = apiserver_writes(&client).await?;
    let sim_before = sim.counters();
    let start = Instant::now();
    let key = args.key.clone();
    futures::stream::iter(0..args.certs)
        .for_each_concurrent(32, |i| {
            let certs = certs.clone();
            let created_at = created_at.clone();
            let key = key.clone();
            async move {
                let name = format!("bench-{i:05}");
                let cert: Certificate = serde_json::from_value(json!({
                    "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Certificate",
                    "metadata": {"name": name},
                    "spec": {"secretName": format!("{name}-tls"), "issuerRef": {"name": "tlm"},
                             "dnsNames": [format!("{name}.bench.example.com")], "privateKey": {"algorithm": key}}
                }))
                .expect("certificate");
                created_at.lock().await.insert(name.clone(), Instant::now());
                certs.create(&PostParams::default(), &cert).await.expect("create certificate");
            }
        })
        .await;
    let created_in = start.elapsed();
    // Generous: a slow machine should report a slow figure, not no figure.
    let limit = Duration::from_secs(600.max(args.certs as u64 / 5));
    tokio::time::timeout(limit, watch)
        .await
        .with_context(|| format!("not all {} Certificates Ready within {limit:?}", args.certs))??;
    let wall = start.elapsed();
    let rss = op.pid().and_then(peak_rss_mib);
    let cpu = op.pid().and_then(cpu_seconds);
    // The last issuances' key deletions and Events may land after the last Ready: they count
    // as issuance, not as steady state, once the operator's writes have stopped.
    let writes_after = settled_writes(&client).await?;

    let created = created_at.lock().await.clone();
    let ready = ready_at.lock().await.clone();
    let mut latencies: Vec<Duration> = ready
        .iter()
        .filter_map(|(name, at)| created.get(name).map(|c| at.saturating_duration_since(*c)))
        .collect();
    latencies.sort();
    let issued = diff(&writes_after, &writes_before);
    let bench_creates = args.certs as f64;
    let operator_writes: f64 = operator_only(&issued) - bench_creates;
    let sim_orders: u64 = sim.counters().orders_by_public_key.values().sum::<u64>()
        - sim_before.orders_by_public_key.values().sum::<u64>();

    // Steady state: nothing should be written while every certificate is up to date.
    let steady_before = apiserver_writes(&client).await?;
    // A resync of every Certificate: touch each one's labels (no generation change).
    let touch = json!({"metadata": {"labels": {"bench-resync": "1"}}});
    futures::stream::iter(0..args.certs)
        .for_each_concurrent(32, |i| {
            let certs = certs.clone();
            let touch = touch.clone();
            async move {
                let _ = certs
                    .patch(
                        &format!("bench-{i:05}"),
                        &PatchParams::default(),
                        &Patch::Merge(&touch),
                    )
                    .await;
            }
        })
        .await;
    tokio::time::sleep(Duration::from_secs(args.steady_secs)).await;
    let steady = diff(&apiserver_writes(&client).await?, &steady_before);
    // The apiserver renews its own Lease and endpoints; count only what the operator writes.
    let steady_operator: f64 = operator_only(&steady) - bench_creates; // minus our own label patches
    let rss_after = op.pid().and_then(peak_rss_mib);
    let rss_file = op.pid().and_then(|pid| status_mib(pid, "RssFile:"));
    op.terminate();
    sim.shutdown().await;

    println!(
        "\n## tlm-operator issuance benchmark ({} {} certificates, {} flags)\n",
        args.certs, args.key, args.flags
    );
    println!("- machine: {}", machine());
    println!(
        "- operator flags: {}\n",
        if flags.is_empty() {
            "none (defaults)".to_string()
        } else {
            flags.join(" ")
        }
    );
    println!("| metric | value |\n| --- | --- |");
    println!(
        "| created all Certificates in | {:.2} s |",
        created_in.as_secs_f64()
    );
    println!("| wall time to all Ready | {:.2} s |", wall.as_secs_f64());
    println!(
        "| certificates / second | {:.1} |",
        args.certs as f64 / wall.as_secs_f64()
    );
    println!(
        "| time-to-Ready p50 | {:.2} s |",
        percentile(&latencies, 0.5).as_secs_f64()
    );
    println!(
        "| time-to-Ready p99 | {:.2} s |",
        percentile(&latencies, 0.99).as_secs_f64()
    );
    println!(
        "| API-server writes per certificate (operator) | {:.2} |",
        operator_writes / args.certs as f64
    );
    println!(
        "| TLM orders per certificate | {:.2} |",
        sim_orders as f64 / args.certs as f64
    );
    println!(
        "| operator peak RSS during issuance | {} |",
        rss.map_or("n/a".into(), |m| format!("{m:.1} MiB"))
    );
    println!(
        "| operator peak RSS after resync | {} |",
        rss_after.map_or("n/a".into(), |m| format!("{m:.1} MiB"))
    );
    println!(
        "| of it, files paged in: code, read-only data (at the end) | {} |",
        rss_file.map_or("n/a".into(), |m| format!("{m:.1} MiB"))
    );
    println!(
        "| operator CPU time until all Ready | {} |",
        cpu.map_or("n/a".into(), |s| format!("{s:.1} s"))
    );
    println!(
        "| operator writes during {} s steady state after a resync of all | {} |",
        args.steady_secs, steady_operator
    );
    println!(
        "\nWrites during issuance by resource and verb (includes the benchmark's own {} Certificate creates):\n",
        args.certs
    );
    for (k, v) in &issued {
        println!("- {k}: {v} ({:.2} per certificate)", v / args.certs as f64);
    }
    println!(
        "\nWrites during the steady-state window (includes the benchmark's {} label patches):\n",
        args.certs
    );
    for (k, v) in &steady {
        println!("- {k}: {v}");
    }
    Ok(())
}
