//! Issuance through a CertCentral ClusterIssuer (its own test binary, like `cluster_issuer`: a
//! ClusterIssuer is seen by every operator on the control plane, and each test's operator reads
//! Secrets from its own namespace).

mod support;

use std::time::Duration;

use kube::api::{Api, PostParams};
use serde_json::json;
use support::{CERTCENTRAL_API_KEY, Env};

#[tokio::test]
async fn a_certificate_is_ordered_through_a_certcentral_cluster_issuer_and_revoked_on_delete() {
    let env = Env::new("cc-clusterissuer").await;
    // The operator reads ClusterIssuer API keys from its ClusterIssuer namespace (--namespace).
    env.create_api_key_secret("cc-api-key", CERTCENTRAL_API_KEY).await;
    let name = format!("cc-{}", env.ns);
    let api: Api<tlm_operator::api::ClusterIssuer> = Api::all(env.client.clone());
    api.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "ClusterIssuer",
            "metadata": {"name": name},
            "spec": {"certCentral": {"url": env.sim.url(), "productNameId": "ssl_plus",
                                     "organizationId": 1, "skipApproval": true, "clusterName": "shared",
                                     "apiKeySecretRef": {"name": "cc-api-key", "key": "api-key"}},
                     "revokeOnDelete": true}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "cci",
        json!({"secretName": "cci-tls", "issuerRef": {"name": name, "kind": "ClusterIssuer"},
               "dnsNames": ["cci.example.com"]}),
    )
    .await;
    env.wait_ready("cci", 1, Duration::from_secs(60)).await;
    env.verify_secret_with_openssl("cci-tls").await;
    let orders: Vec<serde_json::Value> = env
        .certcentral_orders()
        .await
        .into_iter()
        .filter(|o| o["common_name"] == "cci.example.com")
        .collect();
    assert_eq!(orders.len(), 1, "{orders:?}");
    let note = orders[0]["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.starts_with(&format!(
            "tlm-operator: cluster=shared namespace={} certificate=cci",
            env.ns
        )),
        "the audit note names the Certificate's own namespace: {note}"
    );

    env.certs().delete("cci", &Default::default()).await.unwrap();
    env.wait_gone("cci", Duration::from_secs(60)).await;
    let orders = env.certcentral_orders().await;
    assert_eq!(orders[0]["status"], "revoked", "{orders:?}");
    assert!(env.event_reasons("cci").await.iter().any(|r| r == "Revoked"));
    op.terminate();
    env.assert_log_clean(&op, &[CERTCENTRAL_API_KEY]);
    api.delete(&name, &Default::default()).await.unwrap();
}
