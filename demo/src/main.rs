//! `make demo`: start etcd + kube-apiserver + tlm-sim on this machine, install the CRDs and an
//! Issuer pointing at the simulator, run the operator, apply `examples/` (a Certificate and a
//! CTWatch), show progress, print the issued certificate and its verified chain, inject a rogue
//! issuance and show the `UnexpectedIssuance` Event. No DigiCert account needed.
//!
//! `tlm-demo [--keep] [--backend tlm|certcentral|qualys] [--operator-bin PATH]` (`--backend
//! certcentral`: the Issuer is `examples/issuer-certcentral.yaml`, ordering from the sim's
//! CertCentral; `--backend qualys`: `examples/issuer-qualys.yaml`, enrolling through the sim's
//! Qualys CertView)

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use testkit::{ControlPlane, OperatorProcess, install_crds, repo_root};
use tlm_operator::api::{CTWatch, Certificate, Issuer, conditions};
use tlm_operator::pki::{LeafInfo, certs_from_pem, verify_chain};
use tlm_sim::{Injection, Sim, SimOptions};

const NAMESPACE: &str = "tlm-demo";

#[derive(Clone, Copy)]
enum DemoBackend {
    Tlm,
    CertCentral,
    Qualys,
}

struct Args {
    keep: bool,
    /// Which service the demo's Issuer orders from (the sim serves all three).
    backend: DemoBackend,
    operator_bin: PathBuf,
}

fn args() -> Result<Args> {
    let mut keep = false;
    let mut backend = DemoBackend::Tlm;
    let mut operator_bin = std::env::current_exe()?
        .parent()
        .context("binary directory")?
        .join("tlm-operator");
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--keep" => keep = true,
            "--backend" => match it.next().as_deref() {
                Some("tlm") => backend = DemoBackend::Tlm,
                Some("certcentral") => backend = DemoBackend::CertCentral,
                Some("qualys") => backend = DemoBackend::Qualys,
                other => bail!("--backend takes tlm, certcentral or qualys, not {other:?}"),
            },
            "--operator-bin" => {
                operator_bin = PathBuf::from(it.next().context("--operator-bin needs a path")?)
            }
            other => bail!(
                "unknown argument {other}; usage: tlm-demo [--keep] [--backend tlm|certcentral|qualys] [--operator-bin PATH]"
            ),
        }
    }
    if !operator_bin.is_file() {
        bail!(
            "{} not found; build it first (`make demo` does)",
            operator_bin.display()
        );
    }
    Ok(Args {
        keep,
        backend,
        operator_bin,
    })
}

fn step(start: Instant, text: &str) {
    println!("[{:>6.1}s] {text}", start.elapsed().as_secs_f64());
}

/// One object of a YAML file in `examples/`, as JSON.
fn example(name: &str) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(repo_root().join("examples").join(name))?;
    Ok(serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(
        &text,
    )?)?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = args()?;
    let start = Instant::now();
    step(start, "starting etcd and kube-apiserver on loopback");
    let mut cp = ControlPlane::start().await?;
    let client = cp.client().await?;
    install_crds(&client).await?;
    step(
        start,
        "installed the CRDs (Certificate, CTWatch, Issuer, ClusterIssuer)",
    );
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;

    let sim = Sim::start(SimOptions {
        certspotter_empty_retry_after: Duration::from_secs(2),
        ..Default::default()
    })
    .await?;
    step(
        start,
        &format!(
            "tlm-sim (TLM, Cert Spotter, CertCentral, Qualys CertView) is serving {}",
            sim.url()
        ),
    );

    let (secret_name, credentials, issuer, what) = match args.backend {
        DemoBackend::CertCentral => {
            let mut issuer = example("issuer-certcentral.yaml")?;
            issuer["spec"]["certCentral"]["url"] = json!(sim.url());
            issuer["spec"]["certCentral"]["clusterName"] = json!("demo");
            (
                "certcentral-api-key",
                json!({"api-key": "test-devkey"}),
                issuer,
                "created Secret certcentral-api-key and Issuer certcentral (examples/issuer-certcentral.yaml, pointed at tlm-sim's CertCentral)",
            )
        }
        DemoBackend::Qualys => {
            let mut issuer = example("issuer-qualys.yaml")?;
            let q = &mut issuer["spec"]["qualysCertView"];
            q["url"] = json!(sim.url());
            q["intermediateCA"] = json!({"commonName": "tlm-sim Issuing CA"});
            q["approverUserNames"] = json!(["doe_john"]);
            (
                "qualys-credentials",
                json!({"username": "test-qualys-user", "password": "test-qualys-password"}),
                issuer,
                "created Secret qualys-credentials and Issuer qualys (examples/issuer-qualys.yaml, pointed at tlm-sim's Qualys CertView)",
            )
        }
        DemoBackend::Tlm => {
            let mut issuer = example("issuer.yaml")?;
            issuer["spec"]["tlm"]["url"] = json!(sim.url());
            issuer["spec"]["tlm"]["profileId"] = json!("prof-x509");
            (
                "tlm-api-key",
                json!({"api-key": "test-api-key"}),
                issuer,
                "created Secret tlm-api-key and Issuer tlm (examples/issuer.yaml, pointed at tlm-sim)",
            )
        }
    };
    let issuer_name = issuer["metadata"]["name"].as_str().unwrap_or("tlm").to_string();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": secret_name, "namespace": NAMESPACE}, "stringData": credentials
    }))?;
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &secret)
        .await?;
    let issuers: Api<Issuer> = Api::namespaced(client.clone(), NAMESPACE);
    issuers
        .create(&PostParams::default(), &serde_json::from_value(issuer)?)
        .await?;
    step(start, what);

    let log = cp.dir().join("operator.log");
    let mut operator = OperatorProcess::start(
        &args.operator_bin,
        cp.kubeconfig_path(),
        &log,
        &[
            "--namespace".into(),
            NAMESPACE.into(),
            "--ctwatch-interval-cap".into(),
            "3s".into(),
        ],
        &[("RUST_LOG", "info")],
    )?;
    step(
        start,
        &format!("tlm-operator is running (log: {})", log.display()),
    );

    let certs: Api<Certificate> = Api::namespaced(client.clone(), NAMESPACE);
    certs
        .create(
            &PostParams::default(),
            &serde_json::from_value({
                let mut cert = example("certificate.yaml")?;
                cert["spec"]["issuerRef"]["name"] = json!(issuer_name);
                cert
            })?,
        )
        .await?;
    let mut watch = example("ctwatch.yaml")?;
    watch["spec"]["source"]["certSpotter"]["url"] = json!(sim.url());
    let watches: Api<CTWatch> = Api::namespaced(client.clone(), NAMESPACE);
    watches
        .create(&PostParams::default(), &serde_json::from_value(watch)?)
        .await?;
    step(
        start,
        "applied examples/certificate.yaml and examples/ctwatch.yaml",
    );

    let mut last_line = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let cert = loop {
        let cert = certs.get("web").await?;
        let status = cert.status.clone().unwrap_or_default();
        let cond = |t: &str| {
            conditions::find(&status.conditions, t).map(|c| format!("{t}={} ({})", c.status, c.reason))
        };
        let line = format!(
            "tlmcert/web  {}  {}",
            cond("Ready").unwrap_or_else(|| "Ready=?".into()),
            cond("Issuing").unwrap_or_default()
        );
        if line != last_line {
            step(start, &line);
            last_line = line;
        }
        if conditions::is_true(&status.conditions, "Ready") && status.revision.is_some() {
            break cert;
        }
        if Instant::now() > deadline || operator.exited().is_some() {
            bail!(
                "the certificate was not issued; the operator's log ends with:\n{}",
                tail(&operator.logs(), 30)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let secret = Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .get(&cert.spec.secret_name)
        .await?;
    let data: BTreeMap<String, ByteString> = secret.data.unwrap_or_default();
    let text = |k: &str| {
        data.get(k)
            .map(|ByteString(b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let mut chain = certs_from_pem(&text("tls.crt"))?;
    chain.extend(certs_from_pem(&text("ca.crt"))?);
    let leaf = LeafInfo::parse(&chain[0])?;
    println!(
        "\n  Secret {NAMESPACE}/{} (kubernetes.io/tls): {}",
        cert.spec.secret_name,
        data.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    println!("  subject   {}", leaf.subject);
    println!("  issuer    {}", leaf.issuer);
    println!("  serial    {}", leaf.serial_hex);
    println!("  valid     {} .. {}", leaf.not_before, leaf.not_after);
    println!("  DNS names {}", leaf.dns_names.join(", "));
    match verify_chain(&chain) {
        Ok(()) => {
            println!("  chain     verified:");
            for (i, der) in chain.iter().enumerate() {
                println!("    {i}: {}", LeafInfo::parse(der)?.subject);
            }
        }
        Err(e) => bail!("the chain does not verify: {e}"),
    }
    let key = tlm_operator::pki::PrivateKey::from_pem(&text("tls.key"))?;
    println!(
        "  key       {:?} {} bits, matches the certificate: {}",
        key.algorithm(),
        key.size(),
        key.spki_der() == leaf.spki_der
    );
    println!();

    step(
        start,
        "waiting for the CTWatch's first poll (the certificate above is in the simulated CT log)",
    );
    let polled = wait_for(Duration::from_secs(60), || async {
        let w = watches.get("example-com").await.ok()?;
        let s = w.status?;
        (s.issuances_seen >= 1).then_some(s)
    })
    .await
    .context("the CTWatch did not poll")?;
    for r in &polled.recent {
        step(
            start,
            &format!(
                "ctw/example-com judged {} [{}] as {:?} ({})",
                r.id,
                r.dns_names.join(", "),
                r.verdict,
                r.reason
            ),
        );
    }

    let rogue = sim.inject_issuance(Injection {
        dns_names: vec!["login.example.com".into()],
        issuer_name: Some("C=XX, O=Shady Certs Ltd, CN=Shady Issuing CA".into()),
        ..Default::default()
    })?;
    step(
        start,
        &format!("injected a rogue issuance for login.example.com into the CT log (id {rogue})"),
    );
    let events: Api<Event> = Api::namespaced(client.clone(), NAMESPACE);
    let event = wait_for(Duration::from_secs(60), || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("UnexpectedIssuance"))
    })
    .await
    .context("no UnexpectedIssuance Event")?;
    step(
        start,
        &format!(
            "Event Warning UnexpectedIssuance on ctw/example-com: {}",
            event.message.unwrap_or_default()
        ),
    );
    let w = watches.get("example-com").await?;
    let s = w.status.unwrap_or_default();
    step(
        start,
        &format!(
            "ctw/example-com: {} issuances seen, {} unexpected",
            s.issuances_seen, s.unexpected_issuances
        ),
    );

    println!("\ndemo finished in {:.1}s", start.elapsed().as_secs_f64());
    if args.keep {
        cp.keep_running();
        println!(
            "\nStill running. In another terminal:\n  export KUBECONFIG={}\n  kubectl -n {NAMESPACE} get tlmcert,ctw,tlmissuer\n  kubectl -n {NAMESPACE} get events\ntlm-sim: {}\nPress Ctrl-C to stop everything.",
            cp.kubeconfig_path().display(),
            sim.url()
        );
        tokio::signal::ctrl_c().await?;
    }
    // Dropping the control plane stops etcd and kube-apiserver and removes their data.
    Ok(())
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

async fn wait_for<T, F, Fut>(timeout: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(v) = probe().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}
