//! cert-manager's own CRDs on the test control plane, CSRs, and CertificateRequests driven the
//! way cert-manager and an approver would drive them (no cert-manager process runs).

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use tlm_operator::certmanager::api::CertificateRequest;

use super::Env;

const HOW: &str = "run `hack/install-cert-manager-crds.sh` (or `make test`, which runs it through hack/install-control-plane.sh) to fetch them";

/// Applies cert-manager's CertificateRequest and Certificate CRDs from the cache the install
/// script fills. Fails, saying how to install them, when they are missing.
pub async fn install_cert_manager_crds(client: &kube::Client) {
    let script = testkit::repo_root().join("hack/install-cert-manager-crds.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--print-dir")
        .output()
        .expect("bash");
    assert!(out.status.success(), "{} --print-dir failed", script.display());
    let dir = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in [
        "cert-manager.io_certificaterequests.yaml",
        "cert-manager.io_certificates.yaml",
    ] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cert-manager CRD {} is missing ({e}): {HOW}", path.display()));
        let crd: CustomResourceDefinition = serde_yaml::from_str(&text).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        api.patch(&name, &PatchParams::apply("testkit").force(), &Patch::Apply(&crd))
            .await
            .unwrap();
        testkit::wait_for_crd(client, &name).await.unwrap();
    }
}

/// A CSR for `names` (the first is also the CN), as `spec.request` holds it, and its key.
pub fn csr_for(names: &[&str]) -> (String, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let csr = params.serialize_request(&key).unwrap();
    (STANDARD.encode(csr.pem().unwrap()), key)
}

impl Env {
    pub fn requests(&self) -> Api<CertificateRequest> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates a CertificateRequest for `request` (base64 PEM CSR) with `spec` merged in.
    pub async fn create_request(
        &self,
        name: &str,
        request: &str,
        issuer_ref: serde_json::Value,
        extra: serde_json::Value,
    ) {
        let mut spec = json!({"request": request, "issuerRef": issuer_ref});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        let obj = json!({
            "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
            "metadata": {"name": name, "namespace": self.ns}, "spec": spec
        });
        self.requests()
            .create(&PostParams::default(), &serde_json::from_value(obj).unwrap())
            .await
            .unwrap();
    }

    /// Sets `Approved=True` (or `Denied=True`) as cert-manager's approver would.
    pub async fn decide_request(&self, name: &str, approve: bool) {
        let (type_, reason) = if approve {
            ("Approved", "cert-manager.io")
        } else {
            ("Denied", "policy.cert-manager.io")
        };
        let patch = json!({"status": {"conditions": [{
            "type": type_, "status": "True", "reason": reason,
            "message": format!("{type_} by the test"), "lastTransitionTime": "2026-01-01T00:00:00Z"
        }]}});
        self.requests()
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    /// Polls the CertificateRequest until `done` holds.
    pub async fn wait_request(
        &self,
        name: &str,
        timeout: Duration,
        what: &str,
        done: impl Fn(&CertificateRequest) -> bool,
    ) -> CertificateRequest {
        let deadline = Instant::now() + timeout;
        loop {
            let cr = self.requests().get(name).await.unwrap();
            if done(&cr) {
                return cr;
            }
            if Instant::now() > deadline {
                panic!(
                    "CertificateRequest {name}: {what} not reached in {timeout:?}; status: {}, annotations: {:?}",
                    serde_json::to_string_pretty(&cr.status).unwrap(),
                    cr.metadata.annotations
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits for `Ready` with this status and reason.
    pub async fn wait_request_ready(
        &self,
        name: &str,
        status: &str,
        reason: &str,
        timeout: Duration,
    ) -> CertificateRequest {
        self.wait_request(name, timeout, &format!("Ready={status} {reason}"), |cr| {
            ready_of(cr).is_some_and(|(s, r, _)| s == status && r == reason)
        })
        .await
    }
}

/// `Ready` as (status, reason, message).
pub fn ready_of(cr: &CertificateRequest) -> Option<(String, String, String)> {
    cr.condition("Ready").map(|c| {
        (
            c.status.clone(),
            c.reason.clone().unwrap_or_default(),
            c.message.clone().unwrap_or_default(),
        )
    })
}
