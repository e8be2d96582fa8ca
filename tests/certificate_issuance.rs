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

    // One Event per outcome: an issuance that TLM answered at once says so once.
    let reasons = env.event_reasons("web").await;
    let issuance: Vec<_> = reasons
        .iter()
        .filter(|r| ["Generated", "Requested", "Issued"].contains(&r.as_str()))
        .collect();
    assert_eq!(issuance, ["Issued"], "events: {reasons:?}");
    assert_eq!(
        env.sim.counters().orders_by_public_key.values().sum::<u64>(),
        1,
        "exactly one order"
    );
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn key_types_encodings_and_extra_output_formats() {
    let env = Env::new("issue-keys").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    // (name, privateKey, expected tls.key header, openssl key text marker, extra formats)
    let cases = [
        (
            "rsa2048",
            json!({"algorithm": "RSA", "size": 2048}),
            "RSA PRIVATE KEY",
            "2048 bit",
            json!(["CombinedPEM"]),
        ),
        (
            "rsa3072",
            json!({"algorithm": "RSA", "size": 3072, "encoding": "PKCS8"}),
            "PRIVATE KEY",
            "3072 bit",
            json!(["DER"]),
        ),
        (
            "rsa4096",
            json!({"algorithm": "RSA", "size": 4096}),
            "RSA PRIVATE KEY",
            "4096 bit",
            json!(["PKCS7"]),
        ),
        (
            "ed25519",
            json!({"algorithm": "Ed25519"}),
            "PRIVATE KEY",
            "ED25519",
            json!(["CombinedPEM", "DER", "PKCS7"]),
        ),
        (
            "p384",
            json!({"algorithm": "ECDSA", "size": 384, "encoding": "PKCS8"}),
            "PRIVATE KEY",
            "384 bit",
            json!([]),
        ),
    ];
    for (name, key, _, _, formats) in &cases {
        env.create_certificate(
            name,
            json!({"secretName": format!("{name}-tls"), "issuerRef": {"name": "tlm"},
                   "dnsNames": [format!("{name}.example.com")], "privateKey": key,
                   "additionalOutputFormats": formats}),
        )
        .await;
    }
    for (name, _, header, key_marker, formats) in &cases {
        env.wait_ready(name, 1, Duration::from_secs(120)).await;
        let secret = format!("{name}-tls");
        let text = env.verify_secret_with_openssl(&secret).await;
        assert_eq!(dns_names_in(&text), [format!("{name}.example.com")]);
        let data = env.secret_data(&secret).await;
        let key = String::from_utf8(data["tls.key"].clone()).unwrap();
        assert!(
            key.starts_with(&format!("-----BEGIN {header}-----")),
            "{name}: {}",
            &key[..40]
        );
        let dir = env.dir.join(format!("formats-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tls.key"), &data["tls.key"]).unwrap();
        let key_text = openssl(&dir, &["pkey", "-in", "tls.key", "-noout", "-text"]);
        assert!(
            key_text.contains(key_marker),
            "{name}: key is {key_marker}: {}",
            key_text.lines().next().unwrap_or("")
        );
        let formats: Vec<&str> = formats
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(
            data.contains_key("tls-combined.pem"),
            formats.contains(&"CombinedPEM"),
            "{name}"
        );
        assert_eq!(data.contains_key("key.der"), formats.contains(&"DER"), "{name}");
        assert_eq!(data.contains_key("tls.p7c"), formats.contains(&"PKCS7"), "{name}");
        if formats.contains(&"CombinedPEM") {
            let combined = String::from_utf8(data["tls-combined.pem"].clone()).unwrap();
            assert!(
                combined.starts_with(&key),
                "{name}: combined PEM starts with the key"
            );
            assert!(combined.ends_with(&String::from_utf8(data["tls.crt"].clone()).unwrap()));
        }
        if formats.contains(&"DER") {
            std::fs::write(dir.join("key.der"), &data["key.der"]).unwrap();
            let from_der = openssl(&dir, &["pkey", "-inform", "DER", "-in", "key.der", "-pubout"]);
            let from_pem = openssl(&dir, &["pkey", "-in", "tls.key", "-pubout"]);
            assert_eq!(from_der, from_pem, "{name}: key.der is the same key");
        }
        if formats.contains(&"PKCS7") {
            std::fs::write(dir.join("tls.p7c"), &data["tls.p7c"]).unwrap();
            let certs = openssl(&dir, &["pkcs7", "-in", "tls.p7c", "-print_certs", "-noout"]);
            assert_eq!(
                certs.matches("subject=").count(),
                3,
                "{name}: leaf, intermediate, root in PKCS#7"
            );
        }
    }
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn pkcs7_delivery_profile() {
    let env = Env::new("issue-pkcs7").await;
    env.issuer_for("tlm", "prof-pkcs7").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "p7",
        json!({"secretName": "p7-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["p7.example.com"]}),
    )
    .await;
    env.wait_ready("p7", 1, READY_TIMEOUT).await;
    let text = env.verify_secret_with_openssl("p7-tls").await;
    assert_eq!(dns_names_in(&text), ["p7.example.com"]);
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn spec_change_reissues_in_place_and_deleted_or_tampered_secrets_are_repaired() {
    let env = Env::new("issue-change").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "app",
        json!({"secretName": "app-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["app.example.com"]}),
    )
    .await;
    let first = env.wait_ready("app", 1, READY_TIMEOUT).await.status.unwrap();
    let secret_uid = env.secrets().get("app-tls").await.unwrap().metadata.uid;

    // Spec change: one more DNS name.
    let patch = json!({"spec": {"dnsNames": ["app.example.com", "api.example.com"]}});
    env.certs()
        .patch(
            "app",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let second = env.wait_ready("app", 2, READY_TIMEOUT).await.status.unwrap();
    assert_ne!(second.serial_number, first.serial_number, "new serial");
    let text = env.verify_secret_with_openssl("app-tls").await;
    assert_eq!(dns_names_in(&text), ["api.example.com", "app.example.com"]);
    assert_eq!(
        env.secrets().get("app-tls").await.unwrap().metadata.uid,
        secret_uid,
        "Secret updated in place"
    );

    // Deleted Secret: re-created.
    env.secrets()
        .delete("app-tls", &Default::default())
        .await
        .unwrap();
    let third = env.wait_ready("app", 3, READY_TIMEOUT).await.status.unwrap();
    assert_ne!(
        env.secrets().get("app-tls").await.unwrap().metadata.uid,
        secret_uid,
        "a new Secret"
    );
    env.verify_secret_with_openssl("app-tls").await;

    // Tampered certificate: tls.crt replaced by another certificate (the simulator's root).
    let root = k8s_openapi::ByteString(env.sim.root_ca_pem().as_bytes().to_vec());
    let patch = json!({"data": {"tls.crt": root}});
    env.secrets()
        .patch(
            "app-tls",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let fourth = env.wait_ready("app", 4, READY_TIMEOUT).await.status.unwrap();
    assert_ne!(fourth.serial_number, third.serial_number);
    env.verify_secret_with_openssl("app-tls").await;
    let reasons = env.event_reasons("app").await;
    // Repeated Events of one reason are aggregated into one series by the recorder.
    assert!(
        reasons.iter().any(|r| r == "Issued") && reasons.iter().any(|r| r == "Reissued"),
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|r| r == "IssuerNotReady"),
        "an issuer being checked is not reported: {reasons:?}"
    );
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn up_to_date_certificate_resync_writes_nothing() {
    let env = Env::new("issue-steady").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "s",
        json!({"secretName": "s-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["s.example.com"]}),
    )
    .await;
    env.wait_ready("s", 1, READY_TIMEOUT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cert_rv = env.certs().get("s").await.unwrap().metadata.resource_version;
    let secret_rv = env
        .secrets()
        .get("s-tls")
        .await
        .unwrap()
        .metadata
        .resource_version;
    let events = env.events_for("s").await.len();
    let (_, before) = op.http_get("/metrics").await.unwrap();
    // A label change does not bump the generation but triggers a reconcile.
    let patch = json!({"metadata": {"labels": {"touched": "yes"}}});
    env.certs()
        .patch(
            "s",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let touched_rv = env.certs().get("s").await.unwrap().metadata.resource_version;
    assert_ne!(touched_rv, cert_rv);
    // Wait until the operator has reconciled the change, then check nothing was written.
    let reconciles = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("tlm_operator_reconciles_total{controller=\"certificate\"}"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, now) = op.http_get("/metrics").await.unwrap();
        if reconciles(&now) > reconciles(&before) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no reconcile after the label change"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.certs().get("s").await.unwrap().metadata.resource_version,
        touched_rv,
        "no status write"
    );
    assert_eq!(
        env.secrets()
            .get("s-tls")
            .await
            .unwrap()
            .metadata
            .resource_version,
        secret_rv,
        "no Secret write"
    );
    assert_eq!(env.events_for("s").await.len(), events, "no Event");
    op.terminate();
}

#[tokio::test]
async fn revoke_on_delete_uses_a_finalizer_and_revokes_in_tlm() {
    let env = Env::new("issue-revoke").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "keep",
        json!({"secretName": "keep-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["keep.example.com"]}),
    )
    .await;
    env.create_certificate(
        "gone",
        json!({"secretName": "gone-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["gone.example.com"], "revokeOnDelete": true}),
    )
    .await;
    env.wait_ready("keep", 1, READY_TIMEOUT).await;
    let gone = env.wait_ready("gone", 1, READY_TIMEOUT).await;
    assert!(
        env.certs()
            .get("keep")
            .await
            .unwrap()
            .metadata
            .finalizers
            .unwrap_or_default()
            .is_empty(),
        "no finalizer without revokeOnDelete"
    );
    assert_eq!(
        gone.metadata.finalizers.clone().unwrap_or_default(),
        ["tlm.certops.dev/revoke-on-delete"]
    );
    let serial = gone.status.unwrap().serial_number.unwrap();

    env.certs().delete("gone", &Default::default()).await.unwrap();
    env.wait_gone("gone", Duration::from_secs(30)).await;
    assert_eq!(
        env.tlm_status(&serial).await,
        "revoked",
        "revoked in TLM before the Certificate went away"
    );
    env.certs().delete("keep", &Default::default()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(env.certs().get_opt("keep").await.unwrap().is_none());
    assert_eq!(
        env.sim.counters().requests.get("revoke").copied().unwrap_or(0),
        1,
        "only the opted-in certificate is revoked"
    );
    op.terminate();
}
