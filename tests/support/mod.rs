//! Shared setup of the operator's end-to-end tests: the real control plane (testkit), tlm-sim
//! in-process, the operator as a separate process, and checks that do not trust the operator's
//! own code (chains are verified with the `openssl` CLI).

#![allow(dead_code)]

pub mod cert_manager;
pub mod ctwatch;
pub mod qualys;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use testkit::{ControlPlane, OperatorProcess, install_crds, shared, unique_namespace};
use tlm_operator::api::{Certificate, conditions};
use tlm_sim::{Sim, SimOptions};

pub const API_KEY: &str = "test-api-key";
/// The sim's default CertCentral API key (`X-DC-DEVKEY`).
pub const CERTCENTRAL_API_KEY: &str = "test-devkey";

pub struct Env {
    pub cp: &'static ControlPlane,
    pub client: kube::Client,
    pub ns: String,
    pub sim: Sim,
    pub dir: PathBuf,
}

impl Env {
    pub async fn new(prefix: &str) -> Self {
        Self::with_sim(prefix, SimOptions::default()).await
    }

    pub async fn with_sim(prefix: &str, options: SimOptions) -> Self {
        let cp = shared()
            .await
            .expect("control plane (run `make test` to install it)");
        let client = cp.client().await.expect("client");
        install_crds(&client).await.expect("install CRDs");
        let ns = unique_namespace(&client, prefix).await.expect("namespace");
        let sim = Sim::start(options).await.expect("start tlm-sim");
        let dir = cp.dir().join(&ns);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            cp,
            client,
            ns,
            sim,
            dir,
        }
    }

    /// Starts the operator watching only this test's namespace (ClusterIssuer Secrets and the
    /// Lease live there too).
    pub fn start_operator(&self, extra: &[&str], env: &[(&str, &str)]) -> OperatorProcess {
        self.start_operator_logging_to("operator.log", extra, env)
    }

    pub fn start_operator_logging_to(
        &self,
        log: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> OperatorProcess {
        let mut args: Vec<String> = vec![
            "--watch-namespaces".into(),
            self.ns.clone(),
            "--namespace".into(),
            self.ns.clone(),
            "--lease-name".into(),
            format!("tlm-operator-{}", self.ns),
            "--issuer-rate-limit".into(),
            "500".into(),
            "--issuer-burst".into(),
            "500".into(),
            "--issuer-concurrency".into(),
            "32".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        OperatorProcess::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_tlm-operator")),
            self.cp.kubeconfig_path(),
            &self.dir.join(log),
            &args,
            env,
        )
        .expect("start operator")
    }

    pub async fn create_api_key_secret(&self, name: &str, key: &str) {
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": self.ns},
            "stringData": {"api-key": key}
        }))
        .unwrap();
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
        api.patch(name, &PatchParams::apply("test").force(), &Patch::Apply(&secret))
            .await
            .unwrap();
    }

    pub async fn create_issuer(&self, name: &str, profile: &str, secret: &str) {
        let issuer = json!({
            "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Issuer",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": {"tlm": {"url": self.sim.url(), "profileId": profile,
                              "apiKeySecretRef": {"name": secret, "key": "api-key"}}}
        });
        let api: Api<tlm_operator::api::Issuer> = Api::namespaced(self.client.clone(), &self.ns);
        api.create(&PostParams::default(), &serde_json::from_value(issuer).unwrap())
            .await
            .unwrap();
    }

    /// API key Secret `tlm-api-key` and Issuer `name` for `profile`.
    pub async fn issuer_for(&self, name: &str, profile: &str) {
        self.create_api_key_secret("tlm-api-key", API_KEY).await;
        self.create_issuer(name, profile, "tlm-api-key").await;
    }

    /// API key Secret `cc-api-key` (the sim's CertCentral key) and a CertCentral Issuer `name`
    /// for product `ssl_plus`, organization 1, cluster `test`; `extra` is merged into
    /// `spec.certCentral` (e.g. `{"skipApproval": true}`) or, for `revokeOnDelete`, the spec.
    pub async fn certcentral_issuer_for(&self, name: &str, extra: serde_json::Value) {
        self.create_api_key_secret("cc-api-key", CERTCENTRAL_API_KEY)
            .await;
        let mut cc = json!({"url": self.sim.url(), "productNameId": "ssl_plus", "organizationId": 1,
                            "clusterName": "test", "apiKeySecretRef": {"name": "cc-api-key", "key": "api-key"}});
        let mut spec = json!({});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            if k == "revokeOnDelete" {
                spec[k] = v;
            } else {
                cc[k] = v;
            }
        }
        spec["certCentral"] = cc;
        let issuer = json!({
            "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Issuer",
            "metadata": {"name": name, "namespace": self.ns}, "spec": spec
        });
        let api: Api<tlm_operator::api::Issuer> = Api::namespaced(self.client.clone(), &self.ns);
        api.create(&PostParams::default(), &serde_json::from_value(issuer).unwrap())
            .await
            .unwrap();
    }

    /// The sim's CertCentral orders (`GET /sim/certcentral/orders`): id, status, common_name,
    /// product_name_id, certificate_ids, notes.
    pub async fn certcentral_orders(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/sim/certcentral/orders", self.sim.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn certs(&self) -> Api<Certificate> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates a Certificate from a spec given as JSON.
    pub async fn create_certificate(&self, name: &str, spec: serde_json::Value) -> Certificate {
        let cert = json!({
            "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Certificate",
            "metadata": {"name": name, "namespace": self.ns}, "spec": spec
        });
        self.certs()
            .create(&PostParams::default(), &serde_json::from_value(cert).unwrap())
            .await
            .unwrap()
    }

    /// Polls the Certificate until `done` holds.
    pub async fn wait_cert(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        done: impl Fn(&Certificate) -> bool,
    ) -> Certificate {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(cert) = self.certs().get_opt(name).await.unwrap()
                && done(&cert)
            {
                return cert;
            }
            if Instant::now() > deadline {
                let cert = self.certs().get_opt(name).await.unwrap();
                panic!(
                    "Certificate {name}: {what} not reached in {timeout:?}; status: {}",
                    serde_json::to_string_pretty(&cert.and_then(|c| c.status)).unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for Ready=True at the current generation, with `revision >= min_revision`.
    pub async fn wait_ready(&self, name: &str, min_revision: i64, timeout: Duration) -> Certificate {
        self.wait_cert(
            name,
            timeout,
            &format!("Ready at revision >= {min_revision}"),
            |c| {
                let s = c.status.clone().unwrap_or_default();
                conditions::find(&s.conditions, "Ready")
                    .is_some_and(|r| r.status == "True" && r.observed_generation == c.metadata.generation)
                    && s.revision.unwrap_or(0) >= min_revision
                    && s.next_private_key_secret_name.is_none()
            },
        )
        .await
    }

    /// Waits for `Issuing=False, Pending` and returns the TLM request id recorded in status.
    pub async fn wait_for_approval_request(&self, name: &str) -> (Certificate, String) {
        let cert = self
            .wait_cert(name, Duration::from_secs(60), "Issuing=False Pending", |c| {
                condition(c, "Issuing").is_some_and(|(s, r, _)| s == "False" && r == "Pending")
            })
            .await;
        let pending = cert
            .status
            .clone()
            .and_then(|s| s.pending_request)
            .expect("a pending request in status");
        assert_eq!(
            pending.serial_number, None,
            "an approval request has no serial yet"
        );
        let request_id = pending.pickup_request_id.expect("the request id is recorded");
        (cert, request_id)
    }

    /// Waits until Certificate `name` is gone (its finalizer released).
    pub async fn wait_gone(&self, name: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.certs().get_opt(name).await.unwrap().is_some() {
            assert!(Instant::now() < deadline, "Certificate {name} was not released");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// TLM's status (`issued`, `revoked`, ...) of a serial, asked over the wire.
    pub async fn tlm_status(&self, serial: &str) -> String {
        let record: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/mpki/api/v1/certificate/{serial}", self.sim.url()))
            .header("x-api-key", API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        record["status"].as_str().unwrap_or_default().to_string()
    }

    /// The sim's record of a request, by id.
    pub fn sim_request(&self, request_id: &str) -> tlm_sim::RequestInfo {
        self.sim
            .requests()
            .into_iter()
            .find(|r| r.request_id.as_deref() == Some(request_id))
            .expect("the sim knows the request")
    }

    pub async fn secret_data(&self, name: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
        let secret = self.secrets().get(name).await.unwrap();
        secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, ByteString(v))| (k, v))
            .collect()
    }

    /// SHA-256 of the SPKI of the key in Secret `name`'s `tls.key` (hex), to match the key the
    /// sim saw in a CSR.
    pub async fn secret_key_spki(&self, name: &str) -> String {
        spki_of_secret_data(&self.secret_data(name).await)
    }

    pub async fn events_for(&self, name: &str) -> Vec<Event> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .collect()
    }

    /// Event reasons recorded for an object, in no particular order.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        // events.k8s.io Events appear in the core API too; either way the reason is there.
        self.events_for(name)
            .await
            .into_iter()
            .filter_map(|e| e.reason)
            .collect()
    }

    /// Verifies the Secret with openssl: the chain verifies to the simulator's root, the key
    /// matches the certificate. Returns the leaf's text dump.
    pub async fn verify_secret_with_openssl(&self, secret: &str) -> String {
        let data = self.secret_data(secret).await;
        let dir = self.dir.join(format!("verify-{secret}-{}", rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let crt = String::from_utf8(data["tls.crt"].clone()).unwrap();
        let blocks: Vec<&str> = crt.split_inclusive("-----END CERTIFICATE-----\n").collect();
        assert!(blocks.len() >= 2, "tls.crt holds the leaf and the intermediate");
        std::fs::write(dir.join("leaf.pem"), blocks[0]).unwrap();
        std::fs::write(dir.join("intermediates.pem"), blocks[1..].concat()).unwrap();
        std::fs::write(dir.join("ca.pem"), &data["ca.crt"]).unwrap();
        std::fs::write(dir.join("sim-root.pem"), self.sim.root_ca_pem()).unwrap();
        std::fs::write(dir.join("tls.key"), &data["tls.key"]).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&data["ca.crt"]).trim(),
            self.sim.root_ca_pem().trim(),
            "ca.crt is the simulator's root"
        );
        let run = |args: &[&str]| openssl(&dir, args);
        let verified = run(&[
            "verify",
            "-CAfile",
            "sim-root.pem",
            "-untrusted",
            "intermediates.pem",
            "leaf.pem",
        ]);
        assert!(verified.contains("leaf.pem: OK"), "{verified}");
        let cert_pub = run(&["x509", "-in", "leaf.pem", "-noout", "-pubkey"]);
        let key_pub = run(&["pkey", "-in", "tls.key", "-pubout"]);
        assert_eq!(cert_pub, key_pub, "tls.key is the key of the certificate");
        run(&["x509", "-in", "leaf.pem", "-noout", "-text"])
    }

    /// Asserts the log holds no private key and no API key.
    pub fn assert_log_clean(&self, op: &OperatorProcess, extra_secrets: &[&str]) {
        let log = op.logs();
        assert!(!log.is_empty(), "the operator logged something");
        assert!(
            !log.contains("PRIVATE KEY"),
            "a PEM private key block appears in the log"
        );
        for secret in std::iter::once(API_KEY).chain(extra_secrets.iter().copied()) {
            assert!(!log.contains(secret), "a credential appears in the log");
        }
    }
}

pub fn rand_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 0xffffff
    )
}

/// The DNS names of a leaf dumped by `openssl x509 -text`.
pub fn dns_names_in(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .split([',', '\n'])
        .filter_map(|p| p.trim().strip_prefix("DNS:").map(str::to_string))
        .collect();
    names.sort();
    names
}

pub fn condition(cert: &Certificate, type_: &str) -> Option<(String, String, String)> {
    cert.status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, type_))
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Runs `openssl <args>` in `dir`, asserting it succeeds; its standard output.
pub fn openssl(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// SHA-256 of the SPKI of the key in a Secret's `tls.key` (hex).
pub fn spki_of_secret_data(data: &std::collections::BTreeMap<String, Vec<u8>>) -> String {
    let pem = std::str::from_utf8(&data["tls.key"]).expect("tls.key is PEM");
    tlm_operator::pki::PrivateKey::from_pem(pem)
        .expect("tls.key parses")
        .spki_sha256_hex()
}
