//! The Certificate lifecycle through the CertCentral backend, end to end: the operator process,
//! a real kube-apiserver and tlm-sim's CertCentral Services API v2 (docs/certcentral-wire.md).

mod support;

use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use support::{CERTCENTRAL_API_KEY, Env, condition, dns_names_in};
use tlm_sim::SimOptions;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn cert_spec(cn: &str, secret: &str) -> Value {
    json!({"secretName": secret, "issuerRef": {"name": "cc"}, "commonName": cn, "dnsNames": [cn]})
}

/// The sim's orders for `common_name`.
async fn orders_for(env: &Env, common_name: &str) -> Vec<Value> {
    env.certcentral_orders()
        .await
        .into_iter()
        .filter(|o| o["common_name"] == common_name)
        .collect()
}

/// Waits for `Issuing=False` with `reason` and returns the order id recorded in status.
async fn wait_pending(env: &Env, name: &str, reason: &str) -> u64 {
    let cert = env
        .wait_cert(name, READY_TIMEOUT, &format!("Issuing=False {reason}"), |c| {
            condition(c, "Issuing").is_some_and(|(s, r, _)| s == "False" && r == reason)
        })
        .await;
    let pending = cert
        .status
        .and_then(|s| s.pending_request)
        .expect("pending order in status");
    pending
        .pickup_request_id
        .expect("order id recorded")
        .parse()
        .expect("a CertCentral order id")
}

#[tokio::test]
async fn ecdsa_and_rsa_certificates_are_ordered_with_an_audit_note() {
    let env = Env::new("cc-issue").await;
    env.certcentral_issuer_for("cc", json!({"skipApproval": true}))
        .await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "web",
        json!({"secretName": "web-tls", "issuerRef": {"name": "cc"}, "commonName": "web.example.com",
               "dnsNames": ["web.example.com", "www.example.com"]}),
    )
    .await;
    let mut rsa = cert_spec("rsa.example.com", "rsa-tls");
    rsa["privateKey"] = json!({"algorithm": "RSA", "size": 2048});
    env.create_certificate("rsa", rsa).await;

    let cert = env.wait_ready("web", 1, READY_TIMEOUT).await;
    let text = env.verify_secret_with_openssl("web-tls").await;
    assert_eq!(dns_names_in(&text), ["web.example.com", "www.example.com"]);
    assert!(text.contains("prime256v1") || text.contains("P-256"), "{text}");
    let serial = cert.status.clone().unwrap().serial_number.unwrap();
    let secret = env.secrets().get("web-tls").await.unwrap();
    assert_eq!(
        secret.annotations()["tlm.certops.dev/serial-number"],
        serial,
        "the Secret names the leaf's serial"
    );

    env.wait_ready("rsa", 1, READY_TIMEOUT).await;
    let text = env.verify_secret_with_openssl("rsa-tls").await;
    assert!(text.contains("rsaEncryption") && text.contains("2048"), "{text}");

    // One order per Certificate, each with the note naming cluster, namespace, name and UID.
    for (name, cn) in [("web", "web.example.com"), ("rsa", "rsa.example.com")] {
        let orders = orders_for(&env, cn).await;
        assert_eq!(orders.len(), 1, "{name}: one order: {orders:?}");
        assert_eq!(orders[0]["status"], "issued");
        assert_eq!(orders[0]["product_name_id"], "ssl_plus");
        let uid = env.certs().get(name).await.unwrap().uid().unwrap();
        let expected = format!(
            "tlm-operator: cluster=test namespace={} certificate={name} uid={uid}",
            env.ns
        );
        assert_eq!(orders[0]["notes"], json!([expected]), "{name}: the audit note");
    }

    // The Issuer says what it checked.
    let issuers: Api<tlm_operator::api::Issuer> = Api::namespaced(env.client.clone(), &env.ns);
    let issuer = issuers.get("cc").await.unwrap();
    let status = issuer.status.unwrap();
    let ready = tlm_operator::api::conditions::find(&status.conditions, "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Verified")
    );
    assert!(ready.message.contains("ssl_plus"), "{}", ready.message);
    let summary = status.cert_central.expect("certCentral summary");
    assert_eq!(summary.product_name_id, "ssl_plus");
    assert!(summary.skip_approval);

    let reasons = env.event_reasons("web").await;
    assert!(reasons.contains(&"Issued".to_string()), "{reasons:?}");
    op.terminate();
    env.assert_log_clean(&op, &[CERTCENTRAL_API_KEY]);
}

#[tokio::test]
async fn an_order_awaiting_approval_is_issued_once_approved() {
    let env = Env::new("cc-approval").await;
    env.certcentral_issuer_for("cc", json!({})).await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate("appr", cert_spec("appr.example.com", "appr-tls"))
        .await;
    let order = wait_pending(&env, "appr", "Pending").await;
    assert_eq!(
        orders_for(&env, "appr.example.com").await[0]["status"],
        "needs_approval"
    );
    env.sim.certcentral_approve(order).unwrap();
    env.wait_ready("appr", 1, Duration::from_secs(120)).await;
    env.verify_secret_with_openssl("appr-tls").await;
    assert_eq!(orders_for(&env, "appr.example.com").await.len(), 1);
    op.terminate();
    env.assert_log_clean(&op, &[CERTCENTRAL_API_KEY]);
}

#[tokio::test]
async fn pending_validation_is_waited_for_and_a_rejection_is_reported() {
    let env = Env::with_sim(
        "cc-validation",
        SimOptions {
            certcentral_pending_validation: true,
            ..Default::default()
        },
    )
    .await;
    env.certcentral_issuer_for("cc", json!({"skipApproval": true}))
        .await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate("val", cert_spec("val.example.com", "val-tls"))
        .await;
    env.create_certificate("rej", cert_spec("rej.example.com", "rej-tls"))
        .await;

    let order = wait_pending(&env, "val", "PendingValidation").await;
    let cert = env.certs().get("val").await.unwrap();
    let (_, _, message) = condition(&cert, "Issuing").unwrap();
    assert!(
        message.contains("CertCentral") && message.contains("pending"),
        "{message}"
    );
    env.sim.certcentral_issue(order).unwrap();
    env.wait_ready("val", 1, Duration::from_secs(120)).await;
    env.verify_secret_with_openssl("val-tls").await;

    let order = wait_pending(&env, "rej", "PendingValidation").await;
    env.sim.certcentral_settle(order, false).unwrap();
    let cert = env
        .wait_cert("rej", Duration::from_secs(120), "Ready=False Rejected", |c| {
            condition(c, "Ready").is_some_and(|(s, r, _)| s == "False" && r == "Rejected")
        })
        .await;
    let (_, _, message) = condition(&cert, "Ready").unwrap();
    assert!(message.contains(&order.to_string()), "{message}");
    assert!(env.secrets().get_opt("rej-tls").await.unwrap().is_none());
    op.terminate();
    env.assert_log_clean(&op, &[CERTCENTRAL_API_KEY]);
}

#[tokio::test]
async fn a_spec_change_orders_again_and_a_renewal_reissues_the_order() {
    let env = Env::with_sim(
        "cc-change",
        SimOptions {
            certcentral_leaf_lifetime: Some(Duration::from_secs(3600)),
            ..Default::default()
        },
    )
    .await;
    env.certcentral_issuer_for("cc", json!({"skipApproval": true}))
        .await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate("chg", cert_spec("chg.example.com", "chg-tls"))
        .await;
    env.wait_ready("chg", 1, READY_TIMEOUT).await;
    env.certs()
        .patch(
            "chg",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"dnsNames": ["chg.example.com", "more.example.com"]}})),
        )
        .await
        .unwrap();
    env.wait_ready("chg", 2, READY_TIMEOUT).await;
    let text = env.verify_secret_with_openssl("chg-tls").await;
    assert_eq!(dns_names_in(&text), ["chg.example.com", "more.example.com"]);
    assert_eq!(
        orders_for(&env, "chg.example.com").await.len(),
        2,
        "a new order for the new names"
    );

    // Renewal (the hour-long certificate is due 20 s after issuance): a reissue of the order.
    env.create_certificate(
        "ren",
        json!({"secretName": "ren-tls", "issuerRef": {"name": "cc"}, "dnsNames": ["ren.example.com"],
               "renewBefore": "59m40s"}),
    )
    .await;
    let first = env.wait_ready("ren", 1, READY_TIMEOUT).await;
    let renewed = env.wait_ready("ren", 2, Duration::from_secs(90)).await;
    assert_ne!(
        first.status.unwrap().serial_number,
        renewed.status.unwrap().serial_number
    );
    env.verify_secret_with_openssl("ren-tls").await;
    let orders = orders_for(&env, "ren.example.com").await;
    assert_eq!(
        orders.len(),
        1,
        "renewed by reissue on the same order: {orders:?}"
    );
    assert_eq!(orders[0]["certificate_ids"].as_array().unwrap().len(), 2);
    op.terminate();
    env.assert_log_clean(&op, &[CERTCENTRAL_API_KEY]);
}

#[tokio::test]
async fn a_crash_after_the_order_is_placed_orders_once() {
    let env = Env::new("cc-crash").await;
    env.certcentral_issuer_for("cc", json!({"skipApproval": true}))
        .await;
    let mut crashing =
        env.start_operator_logging_to("crash.log", &[], &[("TLM_OPERATOR_CRASH_AT", "after-submit")]);
    env.create_certificate("crash", cert_spec("crash.example.com", "crash-tls"))
        .await;
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    while crashing.exited().is_none() {
        assert!(std::time::Instant::now() < deadline, "no crash");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(crashing.logs().contains("TLM_OPERATOR_CRASH_AT=after-submit"));
    assert_eq!(
        orders_for(&env, "crash.example.com").await.len(),
        1,
        "the order went out"
    );
    let mut op = env.start_operator_logging_to("restart.log", &[], &[]);
    env.wait_ready("crash", 1, READY_TIMEOUT).await;
    env.verify_secret_with_openssl("crash-tls").await;
    let orders = orders_for(&env, "crash.example.com").await;
    assert_eq!(orders.len(), 1, "found again, not ordered twice: {orders:?}");
    op.terminate();
    env.assert_log_clean(&op, &[CERTCENTRAL_API_KEY]);
    env.assert_log_clean(&crashing, &[CERTCENTRAL_API_KEY]);
}

#[tokio::test]
async fn rate_limits_and_retry_after_are_honoured() {
    // The sim's per-key window is tight: the operator's requests meet 429
    // request_limit_exceeded (no Retry-After), and the first order gets a 429 with Retry-After.
    let env = Env::with_sim(
        "cc-429",
        SimOptions {
            certcentral_rate_limits: vec![(6, Duration::from_secs(2))],
            ..Default::default()
        },
    )
    .await;
    env.certcentral_issuer_for("cc", json!({"skipApproval": true}))
        .await;
    env.sim
        .set_faults(
            serde_json::from_value(json!([{"endpoint": "cc_order", "throttle_rate": 1.0,
                "retry_after_seconds": 2, "count": 1}]))
            .unwrap(),
        )
        .unwrap();
    let mut op = env.start_operator(&[], &[]);
    let names: Vec<String> = (0..4).map(|i| format!("rl{i}")).collect();
    for name in &names {
        env.create_certificate(
            name,
            cert_spec(&format!("{name}.example.com"), &format!("{name}-tls")),
        )
        .await;
    }
    for name in &names {
        env.wait_ready(name, 1, Duration::from_secs(120)).await;
        assert_eq!(
            orders_for(&env, &format!("{name}.example.com")).await.len(),
            1,
            "{name}"
        );
    }
    assert_eq!(
        env.certcentral_orders().await.len(),
        names.len(),
        "no order twice"
    );
    let log = env.sim.counters().log;
    let limited: Vec<&str> = log
        .iter()
        .filter(|e| e.status == 429 && e.endpoint.starts_with("cc_"))
        .map(|e| e.endpoint.as_str())
        .collect();
    eprintln!("CertCentral 429s: {limited:?}");
    assert!(
        limited.contains(&"cc_order"),
        "the order met its 429 with Retry-After: {limited:?}"
    );
    assert!(
        limited.len() > 1,
        "the per-key window refused requests too (request_limit_exceeded): {limited:?}"
    );
    for order in env.certcentral_orders().await {
        assert_eq!(
            order["notes"].as_array().map(Vec::len),
            Some(1),
            "every order got its note despite the 429s: {order}"
        );
    }
    op.terminate();
    env.assert_log_clean(&op, &[CERTCENTRAL_API_KEY]);
}

#[tokio::test]
async fn revoke_on_delete_revokes_the_certificate_in_certcentral() {
    let env = Env::new("cc-revoke").await;
    env.certcentral_issuer_for("cc", json!({"skipApproval": true, "revokeOnDelete": true}))
        .await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate("gone", cert_spec("gone.example.com", "gone-tls"))
        .await;
    env.wait_ready("gone", 1, READY_TIMEOUT).await;
    assert_eq!(orders_for(&env, "gone.example.com").await[0]["status"], "issued");
    env.certs().delete("gone", &Default::default()).await.unwrap();
    env.wait_gone("gone", READY_TIMEOUT).await;
    let orders = orders_for(&env, "gone.example.com").await;
    assert_eq!(orders[0]["status"], "revoked", "{orders:?}");
    op.terminate();
    env.assert_log_clean(&op, &[CERTCENTRAL_API_KEY]);
}
