//! Issuance end to end: the operator process, a real kube-apiserver and tlm-sim.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Env, condition, dns_names_in};

const READY_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn ecdsa_certificate_becomes_ready_with_a_verified_secret() {
    let env = Env::new("issue-ecdsa").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "web",
        json!({"secretName": "web-tls", "issuerRef": {"name": "tlm"}, "commonName": "web.example.com",
               "dnsNames": ["web.example.com", "www.example.com"]}),
    )
    .await;
    let cert = env.wait_ready("web", 1, READY_TIMEOUT).await;
    let status = cert.status.clone().unwrap();
    assert_eq!(status.revision, Some(1));
    let serial = status.serial_number.clone().expect("serial in status");
    assert!(status.not_before.is_some() && status.not_after.is_some() && status.renewal_time.is_some());
    assert!(status.renewal_time.as_ref().unwrap().0 < status.not_after.as_ref().unwrap().0);
    assert_eq!(condition(&cert, "Issuing").map(|c| c.0).as_deref(), Some("False"));

    let text = env.verify_secret_with_openssl("web-tls").await;
    assert_eq!(dns_names_in(&text), ["web.example.com", "www.example.com"]);
    assert!(
        text.contains("CN=web.example.com") || text.contains("CN = web.example.com"),
        "{text}"
    );
    assert!(
        text.contains("prime256v1") || text.contains("P-256"),
        "ECDSA P-256 key: {text}"
    );

    let secret = env.secrets().get("web-tls").await.unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let annotations = secret.metadata.annotations.unwrap();
    assert_eq!(annotations["tlm.certops.dev/serial-number"], serial);
    assert_eq!(annotations["tlm.certops.dev/issuer-name"], "tlm");
    let key = String::from_utf8(env.secret_data("web-tls").await["tls.key"].clone()).unwrap();
    assert!(
        key.starts_with("-----BEGIN EC PRIVATE KEY-----"),
        "PKCS#1-style (SEC1) by default"
    );

    // The next-key Secret is gone.
    let owned = env.secrets().list(&Default::default()).await.unwrap();
    assert!(owned.items.iter().all(|s| {
        !s.metadata
            .labels
            .clone()
            .unwrap_or_default()
            .contains_key("tlm.certops.dev/next-private-key")
    }));

    let reasons = env.event_reasons("web").await;
    for expected in ["Generated", "Requested", "Issued"] {
        assert!(
            reasons.iter().any(|r| r == expected),
            "event {expected} missing from {reasons:?}"
        );
    }
    assert_eq!(
        env.sim.counters().orders_by_public_key.values().sum::<u64>(),
        1,
        "exactly one order"
    );
    op.terminate();
    env.assert_log_clean(&op, &[]);
}
