//! A Qualys CertView Issuer against tlm-sim, and the sim's view of its enrollment requests.

use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::Env;

/// The sim's default Qualys API user (`QualysOptions::default`).
pub const QUALYS_USER: &str = "test-qualys-user";
pub const QUALYS_PASSWORD: &str = "test-qualys-password";

impl Env {
    /// Credentials Secret `qualys-credentials` and a Qualys CertView Issuer `name` naming the
    /// sim's organization, intermediate CA and approver, with a budget the tests cannot exhaust;
    /// `extra` is merged into `spec.qualysCertView`.
    pub async fn qualys_issuer_for(&self, name: &str, extra: Value) {
        let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "qualys-credentials", "namespace": self.ns},
            "stringData": {"username": QUALYS_USER, "password": QUALYS_PASSWORD}
        }))
        .unwrap();
        self.secrets()
            .patch(
                "qualys-credentials",
                &PatchParams::apply("test").force(),
                &Patch::Apply(&secret),
            )
            .await
            .unwrap();
        let mut q = json!({
            "url": self.sim.url(),
            "credentialsSecretRef": {"name": "qualys-credentials"},
            "organizationId": 525858,
            "productNameId": "ssl_plus",
            "intermediateCA": {"commonName": "tlm-sim Issuing CA"},
            "approverUserNames": ["doe_john"],
            "requestsPerHour": 360000,
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            q[k] = v;
        }
        let issuer = json!({
            "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Issuer",
            "metadata": {"name": name, "namespace": self.ns}, "spec": {"qualysCertView": q}
        });
        let api: Api<tlm_operator::api::Issuer> = Api::namespaced(self.client.clone(), &self.ns);
        api.create(&PostParams::default(), &serde_json::from_value(issuer).unwrap())
            .await
            .unwrap();
    }

    /// The sim's enrollment requests for `common_name`, oldest first: uuid, status, caStatus,
    /// commonName, spkiSha256 (the CSR key's).
    pub fn qualys_requests_for(&self, common_name: &str) -> Vec<Value> {
        self.sim
            .qualys_orders()
            .into_iter()
            .filter(|o| o["commonName"] == common_name)
            .collect()
    }
}
