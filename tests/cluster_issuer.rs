//! Issuance through a ClusterIssuer (its own test binary: a ClusterIssuer is seen by every
//! operator on the control plane, and each test's operator reads Secrets from its own
//! namespace).

mod support;

use std::time::Duration;

use kube::api::{Api, PostParams};
use serde_json::json;
use support::Env;

#[tokio::test]
async fn a_certificate_is_issued_through_a_cluster_issuer_and_revoked_on_delete() {
    let env = Env::new("clusterissuer").await;
    // The operator reads ClusterIssuer API keys from its ClusterIssuer namespace (--namespace).
    env.create_api_key_secret("tlm-api-key", support::API_KEY).await;
    let name = format!("tlm-{}", env.ns);
    let api: Api<tlm_operator::api::ClusterIssuer> = Api::all(env.client.clone());
    api.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "ClusterIssuer",
            "metadata": {"name": name},
            "spec": {"tlm": {"url": env.sim.url(), "profileId": "prof-collide",
                              "apiKeySecretRef": {"name": "tlm-api-key", "key": "api-key"}},
                     "revokeOnDelete": true}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "ci",
        json!({"secretName": "ci-tls", "issuerRef": {"name": name, "kind": "ClusterIssuer"},
               "dnsNames": ["ci.example.com"]}),
    )
    .await;
    let cert = env.wait_ready("ci", 1, Duration::from_secs(60)).await;
    env.verify_secret_with_openssl("ci-tls").await;
    let status = cert.status.unwrap();
    let serial = status.serial_number.unwrap();
    let thumbprint = status.thumbprint.unwrap();

    // prof-collide gives every certificate a second one with the same serial: revoking needs
    // thumbprint_sha256 to say which, and must revoke ours only.
    env.certs().delete("ci", &Default::default()).await.unwrap();
    env.wait_gone("ci", Duration::from_secs(60)).await;
    let client = tlm_operator::clients::tlm::TlmClient::new(tlm_operator::clients::tlm::TlmClientConfig {
        base_url: env.sim.url().to_string(),
        api_key: support::API_KEY.to_string().into(),
        http: Default::default(),
        throttle: Default::default(),
        retry: Default::default(),
    })
    .unwrap();
    let same_serial = client
        .search_all(&tlm_operator::clients::tlm_types::SearchQuery {
            serial_number: Some(serial.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(same_serial.len(), 2, "the serial is shared");
    for item in same_serial {
        let ours = item
            .thumbprint
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(&thumbprint));
        let expected = if ours { "revoked" } else { "issued" };
        assert_eq!(item.status.as_deref(), Some(expected), "ours: {ours}");
    }
    let revokes = env
        .sim
        .counters()
        .log
        .iter()
        .filter(|e| e.endpoint == "revoke")
        .map(|e| e.status)
        .collect::<Vec<_>>();
    assert_eq!(
        revokes,
        [400, 204],
        "refused without the thumbprint, done with it"
    );
    assert!(env.event_reasons("ci").await.iter().any(|r| r == "Revoked"));
    op.terminate();
    env.assert_log_clean(&op, &[]);
    api.delete(&name, &Default::default()).await.unwrap();
}
