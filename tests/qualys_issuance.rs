//! The Certificate lifecycle through the Qualys CertView backend, end to end: the operator
//! process, a real kube-apiserver and tlm-sim's CertView enrollment API (docs/qualys-wire.md).

mod support;

use std::time::Duration;

use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::qualys::QUALYS_PASSWORD;
use support::{Env, condition, dns_names_in};
use tlm_sim::{QualysOptions, SimOptions};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const SLOW_TIMEOUT: Duration = Duration::from_secs(120);

fn cert_spec(cn: &str, secret: &str) -> Value {
    json!({"secretName": secret, "issuerRef": {"name": "q"}, "commonName": cn, "dnsNames": [cn]})
}

/// Requests wait for `sim.qualys_act(uuid, "approve")`, then for `"issue"`.
async fn with_manual_approval_and_issuance(prefix: &str) -> Env {
    Env::with_sim(
        prefix,
        sim_options(QualysOptions {
            manual_approval: true,
            manual_issuance: true,
            ..Default::default()
        }),
    )
    .await
}

fn sim_options(qualys: QualysOptions) -> SimOptions {
    SimOptions {
        qualys,
        ..Default::default()
    }
}

/// Waits for `Issuing=False` with `reason` and returns the request UUID recorded in status.
async fn wait_pending(env: &Env, name: &str, reason: &str) -> String {
    let cert = env
        .wait_cert(name, SLOW_TIMEOUT, &format!("Issuing=False {reason}"), |c| {
            condition(c, "Issuing").is_some_and(|(s, r, _)| s == "False" && r == reason)
        })
        .await;
    cert.status
        .and_then(|s| s.pending_request)
        .and_then(|p| p.pickup_request_id)
        .expect("the request's UUID recorded in status")
}

#[tokio::test]
async fn ecdsa_and_rsa_certificates_are_enrolled_with_the_clusters_own_csr() {
    let env = Env::new("q-issue").await;
    env.qualys_issuer_for("q", json!({"signatureHash": "SHA-384"}))
        .await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "web",
        json!({"secretName": "web-tls", "issuerRef": {"name": "q"}, "commonName": "web.example.com",
               "dnsNames": ["web.example.com", "www.example.com"]}),
    )
    .await;
    let mut rsa = cert_spec("rsa.example.com", "rsa-tls");
    rsa["privateKey"] = json!({"algorithm": "RSA", "size": 3072});
    env.create_certificate("rsa", rsa).await;

    env.wait_ready("web", 1, READY_TIMEOUT).await;
    let text = env.verify_secret_with_openssl("web-tls").await;
    assert_eq!(dns_names_in(&text), ["web.example.com", "www.example.com"]);
    assert!(text.contains("prime256v1") || text.contains("P-256"), "{text}");
    env.wait_ready("rsa", 1, READY_TIMEOUT).await;
    let text = env.verify_secret_with_openssl("rsa-tls").await;
    assert!(text.contains("rsaEncryption") && text.contains("3072"), "{text}");

    // One request per Certificate, made from the key that is in the Secret: the CSR came from
    // the cluster (Qualys did not generate a key).
    for (cn, secret) in [("web.example.com", "web-tls"), ("rsa.example.com", "rsa-tls")] {
        let requests = env.qualys_requests_for(cn);
        assert_eq!(requests.len(), 1, "{cn}: one request: {requests:?}");
        assert_eq!(requests[0]["status"], "ISSUED");
        assert_eq!(
            requests[0]["spkiSha256"],
            env.secret_key_spki(secret).await,
            "{cn}: the request's CSR carries the Secret's key"
        );
    }

    // The Issuer says what it checked.
    let issuers: Api<tlm_operator::api::Issuer> = Api::namespaced(env.client.clone(), &env.ns);
    let status = issuers.get("q").await.unwrap().status.unwrap();
    let ready = tlm_operator::api::conditions::find(&status.conditions, "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "Verified")
    );
    assert!(ready.message.contains("doe_john"), "{}", ready.message);
    let summary = status.qualys_cert_view.expect("qualysCertView summary");
    assert_eq!(
        (summary.product_name_id.as_str(), summary.organization_id),
        ("ssl_plus", 525858)
    );
    op.terminate();
    env.assert_log_clean(&op, &[QUALYS_PASSWORD]);
}

#[tokio::test]
async fn wrong_credentials_leave_the_issuer_not_ready_and_say_why() {
    let env = Env::new("q-auth").await;
    env.qualys_issuer_for("q", json!({})).await;
    env.secrets()
        .patch(
            "qualys-credentials",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"password": "not-the-password"}})),
        )
        .await
        .unwrap();
    let mut op = env.start_operator(&[], &[]);
    let issuers: Api<tlm_operator::api::Issuer> = Api::namespaced(env.client.clone(), &env.ns);
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    let ready = loop {
        let status = issuers.get("q").await.unwrap().status.unwrap_or_default();
        if let Some(c) = tlm_operator::api::conditions::find(&status.conditions, "Ready") {
            break c.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Issuer was never checked"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Unauthorized"),
        "{}",
        ready.message
    );
    assert!(ready.message.contains("credentials Secret"), "{}", ready.message);
    op.terminate();
    env.assert_log_clean(&op, &[QUALYS_PASSWORD, "not-the-password"]);
}

#[tokio::test]
async fn a_request_waits_for_its_approver_then_for_digicert_and_is_issued() {
    let env = with_manual_approval_and_issuance("q-approval").await;
    env.qualys_issuer_for("q", json!({})).await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate("appr", cert_spec("appr.example.com", "appr-tls"))
        .await;

    let uuid = wait_pending(&env, "appr", "Pending").await;
    assert_eq!(env.qualys_requests_for("appr.example.com")[0]["uuid"], uuid);
    let cert = env.certs().get("appr").await.unwrap();
    let (_, _, message) = condition(&cert, "Issuing").unwrap();
    assert!(message.contains("Qualys") && message.contains(&uuid), "{message}");

    env.sim.qualys_act(&uuid, "approve").unwrap();
    let again = wait_pending(&env, "appr", "PendingValidation").await;
    assert_eq!(again, uuid, "the same request, now with DigiCert");
    env.sim.qualys_act(&uuid, "issue").unwrap();
    env.wait_ready("appr", 1, SLOW_TIMEOUT).await;
    env.verify_secret_with_openssl("appr-tls").await;
    assert_eq!(env.qualys_requests_for("appr.example.com").len(), 1);
    op.terminate();
    env.assert_log_clean(&op, &[QUALYS_PASSWORD]);
}

#[tokio::test]
async fn an_approvers_rejection_and_digicerts_are_each_reported() {
    let env = with_manual_approval_and_issuance("q-reject").await;
    env.qualys_issuer_for("q", json!({})).await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate("no", cert_spec("no.example.com", "no-tls"))
        .await;
    env.create_certificate("ca", cert_spec("ca.example.com", "ca-tls"))
        .await;

    // An approver says no while it is SUBMITTED.
    let uuid = wait_pending(&env, "no", "Pending").await;
    env.sim.qualys_act(&uuid, "reject").unwrap();
    let cert = env
        .wait_cert("no", SLOW_TIMEOUT, "Ready=False Rejected", |c| {
            condition(c, "Ready").is_some_and(|(s, r, _)| s == "False" && r == "Rejected")
        })
        .await;
    let (_, _, message) = condition(&cert, "Ready").unwrap();
    assert!(message.contains(&uuid), "{message}");

    // DigiCert refuses an approved one (caStatus rejected).
    let uuid = wait_pending(&env, "ca", "Pending").await;
    env.sim.qualys_act(&uuid, "approve").unwrap();
    wait_pending(&env, "ca", "PendingValidation").await;
    env.sim.qualys_act(&uuid, "reject").unwrap();
    let cert = env
        .wait_cert("ca", SLOW_TIMEOUT, "Ready=False Canceled", |c| {
            condition(c, "Ready").is_some_and(|(s, r, _)| s == "False" && r == "Canceled")
        })
        .await;
    let (_, _, message) = condition(&cert, "Ready").unwrap();
    assert!(message.contains("DigiCert"), "{message}");
    for secret in ["no-tls", "ca-tls"] {
        assert!(env.secrets().get_opt(secret).await.unwrap().is_none());
    }
    op.terminate();
    env.assert_log_clean(&op, &[QUALYS_PASSWORD]);
}

#[tokio::test]
async fn a_spec_change_and_a_renewal_each_enroll_anew_with_a_new_key() {
    let env = Env::with_sim(
        "q-change",
        sim_options(QualysOptions {
            leaf_lifetime: Some(Duration::from_secs(3600)),
            ..Default::default()
        }),
    )
    .await;
    env.qualys_issuer_for("q", json!({})).await;
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
    assert_eq!(env.qualys_requests_for("chg.example.com").len(), 2);

    // Renewal (the hour-long certificate is due 20 s after issuance): a new request, new key.
    env.create_certificate(
        "ren",
        json!({"secretName": "ren-tls", "issuerRef": {"name": "q"}, "dnsNames": ["ren.example.com"],
               "renewBefore": "59m40s"}),
    )
    .await;
    let first = env.wait_ready("ren", 1, READY_TIMEOUT).await;
    let first_key = env.secret_key_spki("ren-tls").await;
    let renewed = env.wait_ready("ren", 2, Duration::from_secs(90)).await;
    assert_ne!(
        first.status.unwrap().serial_number,
        renewed.status.unwrap().serial_number
    );
    env.verify_secret_with_openssl("ren-tls").await;
    let requests = env.qualys_requests_for("ren.example.com");
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0]["spkiSha256"], first_key);
    assert_eq!(requests[1]["spkiSha256"], env.secret_key_spki("ren-tls").await);
    assert_ne!(requests[0]["spkiSha256"], requests[1]["spkiSha256"], "a new key");
    op.terminate();
    env.assert_log_clean(&op, &[QUALYS_PASSWORD]);
}

/// Qualys cannot list requests, so the lifecycle writes an in-flight record before it submits:
/// an answer lost to a crash makes it wait (and say so), never enroll a second time.
#[tokio::test]
async fn a_crash_after_the_request_is_placed_does_not_enroll_twice() {
    let env = Env::new("q-crash").await;
    env.qualys_issuer_for("q", json!({})).await;
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
    assert_eq!(env.qualys_requests_for("crash.example.com").len(), 1);

    let mut op = env.start_operator_logging_to("restart.log", &[], &[]);
    let cert = env
        .wait_cert("crash", READY_TIMEOUT, "Issuing=False SubmitUnconfirmed", |c| {
            condition(c, "Issuing").is_some_and(|(s, r, _)| s == "False" && r == "SubmitUnconfirmed")
        })
        .await;
    let (_, _, message) = condition(&cert, "Issuing").unwrap();
    assert!(message.contains("Qualys"), "{message}");
    // Several reconciles later, still one request.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        env.qualys_requests_for("crash.example.com").len(),
        1,
        "not enrolled twice"
    );
    // The way out the condition names: deleting the next-key Secret orders at once, with a
    // new key.
    let next_key = cert
        .status
        .and_then(|s| s.next_private_key_secret_name)
        .expect("next-key Secret named in status");
    env.secrets()
        .delete(&next_key, &Default::default())
        .await
        .unwrap();
    env.wait_ready("crash", 1, READY_TIMEOUT).await;
    env.verify_secret_with_openssl("crash-tls").await;
    assert_eq!(env.qualys_requests_for("crash.example.com").len(), 2);
    op.terminate();
    env.assert_log_clean(&op, &[QUALYS_PASSWORD]);
    env.assert_log_clean(&crashing, &[QUALYS_PASSWORD]);
}

#[tokio::test]
async fn retry_after_is_honoured_and_nothing_is_enrolled_twice() {
    let env = Env::new("q-429").await;
    env.qualys_issuer_for("q", json!({})).await;
    env.sim
        .set_faults(
            serde_json::from_value(json!([{"endpoint": "qualys_enroll", "throttle_rate": 1.0,
                "retry_after_seconds": 2, "count": 2}]))
            .unwrap(),
        )
        .unwrap();
    let mut op = env.start_operator(&[], &[]);
    let names: Vec<String> = (0..3).map(|i| format!("rl{i}")).collect();
    for name in &names {
        env.create_certificate(
            name,
            cert_spec(&format!("{name}.example.com"), &format!("{name}-tls")),
        )
        .await;
    }
    for name in &names {
        env.wait_ready(name, 1, SLOW_TIMEOUT).await;
        assert_eq!(
            env.qualys_requests_for(&format!("{name}.example.com")).len(),
            1,
            "{name}"
        );
    }
    let log = env.sim.counters().log;
    let limited = log
        .iter()
        .filter(|e| e.status == 429 && e.endpoint == "qualys_enroll")
        .count();
    assert!(limited >= 2, "the 429s were met and waited out: {limited}");
    op.terminate();
    env.assert_log_clean(&op, &[QUALYS_PASSWORD]);
}

#[tokio::test]
async fn revoke_on_delete_is_refused_on_the_issuer_and_reported_on_a_certificate() {
    let env = Env::new("q-revoke").await;
    env.qualys_issuer_for("q", json!({})).await;
    // Qualys CertView has no revocation: the Issuer field is refused at apply time.
    let refused = json!({
        "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "Issuer",
        "metadata": {"name": "q-revoking", "namespace": env.ns},
        "spec": {"revokeOnDelete": true, "qualysCertView": {
            "url": env.sim.url(), "credentialsSecretRef": {"name": "qualys-credentials"},
            "organizationId": 525858, "productNameId": "ssl_plus",
            "intermediateCA": {"commonName": "tlm-sim Issuing CA"}, "approverUserNames": ["doe_john"]}}
    });
    let issuers: Api<tlm_operator::api::Issuer> = Api::namespaced(env.client.clone(), &env.ns);
    let err = issuers
        .create(&PostParams::default(), &serde_json::from_value(refused).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no revocation API"), "{err}");

    // A Certificate asking for it is let go, with an Event saying it was not revoked.
    let mut op = env.start_operator(&[], &[]);
    let mut spec = cert_spec("gone.example.com", "gone-tls");
    spec["revokeOnDelete"] = json!(true);
    env.create_certificate("gone", spec).await;
    env.wait_ready("gone", 1, READY_TIMEOUT).await;
    env.certs().delete("gone", &Default::default()).await.unwrap();
    env.wait_gone("gone", READY_TIMEOUT).await;
    let reasons = env.event_reasons("gone").await;
    assert!(
        reasons.contains(&"RevocationUnsupported".to_string()),
        "{reasons:?}"
    );
    assert_eq!(env.qualys_requests_for("gone.example.com")[0]["status"], "ISSUED");
    op.terminate();
    env.assert_log_clean(&op, &[QUALYS_PASSWORD]);
}
