//! Fairness of key generation: how much slower does an ECDSA Certificate in one namespace
//! become Ready while another namespace has 100 RSA-4096 keys being generated? Prints the
//! median time-to-Ready idle and under that load, and their ratio (goal <= 2x), with the
//! operator's default flags.
//!
//! `cargo bench --bench keygen_fairness -- [--rsa N] [--ecdsa N]`

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use testkit::{ControlPlane, OperatorProcess, install_crds, unique_namespace};
use tlm_operator::api::{Certificate, Issuer, conditions};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn tenant(client: &kube::Client, sim_url: &str, prefix: &str) -> Result<String> {
    let ns = unique_namespace(client, prefix).await?;
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tlm-api-key", "namespace": ns},
        "stringData": {"api-key": "test-api-key"}
    }))?;
    Api::<Secret>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &secret)
        .await?;
    let issuer: Issuer = serde_json::from_value(json!({
        "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Issuer", "metadata": {"name": "tlm", "namespace": ns},
        "spec": {"tlm": {"url": sim_url, "profileId": "prof-x509", "apiKeySecretRef": {"name": "tlm-api-key", "key": "api-key"}}}
    }))?;
    Api::<Issuer>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &issuer)
        .await?;
    Ok(ns)
}

async fn create(client: &kube::Client, ns: &str, name: &str, key: serde_json::Value) -> Result<()> {
    let cert: Certificate = serde_json::from_value(json!({
        "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Certificate", "metadata": {"name": name},
        "spec": {"secretName": format!("{name}-tls"), "issuerRef": {"name": "tlm"},
                 "dnsNames": [format!("{name}.bench.example.com")], "privateKey": key}
    }))?;
    Api::<Certificate>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &cert)
        .await?;
    Ok(())
}

async fn time_to_ready(
    client: kube::Client,
    ns: String,
    name: String,
    timeout: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    let api = Api::<Certificate>::namespaced(client, &ns);
    loop {
        let ready = api
            .get_opt(&name)
            .await?
            .and_then(|c| c.status)
            .is_some_and(|s| conditions::is_true(&s.conditions, "Ready") && s.revision.is_some());
        if ready {
            return Ok(started.elapsed());
        }
        if started.elapsed() > timeout {
            bail!("{ns}/{name} not Ready within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates `n` ECDSA Certificates one after another and returns their sorted times to Ready.
async fn ecdsa_round(client: &kube::Client, ns: &str, tag: &str, n: usize) -> Result<Vec<Duration>> {
    let mut times = Vec::new();
    for i in 0..n {
        let name = format!("{tag}-{i:03}");
        create(client, ns, &name, json!({"algorithm": "ECDSA"})).await?;
        times.push(time_to_ready(client.clone(), ns.to_string(), name, Duration::from_secs(300)).await?);
    }
    times.sort();
    Ok(times)
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (rsa, ecdsa) = (arg("--rsa", 100), arg("--ecdsa", 10));
    let cp = ControlPlane::start().await?;
    let client = cp.client().await?;
    install_crds(&client).await?;
    let sim = tlm_sim::Sim::start(tlm_sim::SimOptions::default()).await?;
    let busy = tenant(&client, sim.url(), "busy").await?;
    let quiet = tenant(&client, sim.url(), "quiet").await?;
    // Default flags: what users get.
    let mut op = OperatorProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_tlm-operator")),
        cp.kubeconfig_path(),
        &cp.dir().join("fairness-operator.log"),
        &["--namespace".into(), quiet.clone()],
        &[("RUST_LOG", "warn")],
    )?;
    op.wait_ready(Duration::from_secs(60)).await?;
    // Warm up (issuer checks, connections) before measuring.
    ecdsa_round(&client, &quiet, "warm", 2).await?;

    let idle = ecdsa_round(&client, &quiet, "idle", ecdsa).await?;
    let load_started = Instant::now();
    for i in 0..rsa {
        create(
            &client,
            &busy,
            &format!("rsa-{i:03}"),
            json!({"algorithm": "RSA", "size": 4096}),
        )
        .await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = ecdsa_round(&client, &quiet, "loaded", ecdsa).await?;
    let rsa_waits: Vec<_> = (0..rsa)
        .map(|i| {
            tokio::spawn(time_to_ready(
                client.clone(),
                busy.clone(),
                format!("rsa-{i:03}"),
                Duration::from_secs(1800),
            ))
        })
        .collect();
    for wait in rsa_waits {
        wait.await??;
    }
    let rsa_all = load_started.elapsed();
    op.terminate();
    sim.shutdown().await;

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let ratio = median(&loaded).as_secs_f64() / median(&idle).as_secs_f64();
    println!(
        "\n## Key generation fairness ({cores} cores, {}; operator default flags)\n",
        cpu_model()
    );
    println!("| metric | value |\n| --- | --- |");
    println!(
        "| ECDSA time-to-Ready, idle (median of {ecdsa}) | {:.3} s |",
        median(&idle).as_secs_f64()
    );
    println!(
        "| ECDSA time-to-Ready while {rsa} RSA-4096 keys are generated in another namespace (median of {ecdsa}) | {:.3} s |",
        median(&loaded).as_secs_f64()
    );
    println!("| ratio (goal <= 2x) | {ratio:.2}x |");
    println!(
        "| max ECDSA time-to-Ready under load | {:.3} s |",
        loaded.last().map_or(0.0, |d| d.as_secs_f64())
    );
    println!(
        "| all {rsa} RSA-4096 Certificates Ready after | {:.1} s |",
        rsa_all.as_secs_f64()
    );
    Ok(())
}
