//! Hostile services and hostile tenants, Certificate side: a service that asks for an absurd
//! wait or redirects elsewhere, a tenant who points a Certificate at someone else's Secret or
//! serial, a panic in one reconcile. The operator stays up, other tenants keep working, and
//! nothing foreign is overwritten, revoked or sent a credential.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{Env, condition};

fn total_orders(env: &Env) -> u64 {
    env.sim.counters().orders_by_public_key.values().sum()
}

fn cert_spec(name: &str, secret: &str, issuer: &str) -> serde_json::Value {
    json!({"secretName": secret, "issuerRef": {"name": issuer}, "dnsNames": [format!("{name}.example.com")]})
}

#[tokio::test]
async fn an_absurd_retry_after_neither_crashes_the_operator_nor_stalls_other_issuers() {
    let env = Env::new("retry-after").await;
    // Two tenants on one TLM: the hostile answer reaches only the first key.
    env.issuer_for("victim", "prof-x509").await;
    env.create_api_key_secret("other-key", "limited-api-key").await;
    env.create_issuer("other", "prof-x509", "other-key").await;
    let mut op = env.start_operator(&[], &[]);
    env.sim
        .set_faults(
            serde_json::from_value(json!([{"endpoint": "submit", "throttle_rate": 1.0,
            "retry_after_seconds": 99_999_999_999_999u64, "count": 1}]))
            .unwrap(),
        )
        .unwrap();
    env.create_certificate("hit", cert_spec("hit", "hit-tls", "victim"))
        .await;
    env.wait_cert("hit", Duration::from_secs(60), "Issuing RateLimited", |c| {
        condition(c, "Issuing").is_some_and(|(_, r, _)| r == "RateLimited")
    })
    .await;
    env.create_certificate("fine", cert_spec("fine", "fine-tls", "other"))
        .await;
    env.wait_ready("fine", 1, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(op.exited().is_none(), "the operator is still running");
    let (code, _) = op.http_get("/healthz").await.unwrap();
    assert_eq!(code, 200);
    op.terminate();
    env.assert_log_clean(&op, &["limited-api-key"]);
}

#[tokio::test]
async fn a_panic_in_one_reconcile_ends_neither_the_process_nor_the_issuance() {
    let env = Env::new("panic").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[("TLM_OPERATOR_PANIC_AT", "after-begin")]);
    env.create_certificate("p", cert_spec("p", "p-tls", "tlm")).await;
    env.wait_ready("p", 1, Duration::from_secs(60)).await;
    assert!(op.exited().is_none(), "the operator is still running");
    let (_, metrics) = op.http_get("/metrics").await.unwrap();
    assert!(
        metrics.contains("tlm_operator_panics_total{controller=\"certificate\"} 1"),
        "the panic is counted:\n{metrics}"
    );
    assert!(op.logs().contains("panicking here on purpose"));
    op.terminate();
}

#[tokio::test]
async fn a_secret_that_is_not_ours_is_never_taken_over_and_nothing_is_ordered_for_it() {
    let env = Env::new("takeover").await;
    env.issuer_for("tlm", "prof-x509").await;
    let secrets: Api<Secret> = env.secrets();
    let foreign = |name: &str, type_: &str| -> Secret {
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret", "type": type_,
            "metadata": {"name": name, "namespace": env.ns},
            "stringData": {"tls.crt": "someone else's", "tls.key": "someone else's", "other": "keep me"}}))
        .unwrap()
    };
    secrets
        .create(&PostParams::default(), &foreign("theirs", "kubernetes.io/tls"))
        .await
        .unwrap();
    secrets
        .create(&PostParams::default(), &foreign("opaque", "Opaque"))
        .await
        .unwrap();
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate("grab", cert_spec("grab", "theirs", "tlm"))
        .await;
    env.create_certificate("typed", cert_spec("typed", "opaque", "tlm"))
        .await;
    for (name, reason) in [("grab", "SecretNotOwned"), ("typed", "SecretTypeMismatch")] {
        let refused = env
            .wait_cert(name, Duration::from_secs(60), reason, |c| {
                condition(c, "Ready").is_some_and(|(s, r, _)| s == "False" && r == reason)
            })
            .await;
        assert!(condition(&refused, "Ready").unwrap().2.contains("secretName"));
        assert!(env.event_reasons(name).await.iter().any(|r| r == reason));
    }
    // Two Certificates, one Secret name: the first keeps it, the second is refused.
    env.create_certificate("first", cert_spec("first", "shared", "tlm"))
        .await;
    env.wait_ready("first", 1, Duration::from_secs(60)).await;
    env.create_certificate("second", cert_spec("second", "shared", "tlm"))
        .await;
    let second = env
        .wait_cert("second", Duration::from_secs(60), "DuplicateSecretName", |c| {
            condition(c, "Ready").is_some_and(|(_, r, _)| r == "DuplicateSecretName")
        })
        .await;
    assert!(condition(&second, "Ready").unwrap().2.contains("first"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(total_orders(&env), 1, "only `first` ordered anything");
    let data = env.secret_data("theirs").await;
    assert_eq!(data["other"], b"keep me", "the foreign Secret is untouched");
    assert_eq!(data["tls.crt"], b"someone else's");
    assert_eq!(
        env.certs().get("first").await.unwrap().status.unwrap().revision,
        Some(1),
        "the holder is not disturbed"
    );

    // The Secret's owner opts in explicitly: then it is written.
    secrets
        .patch(
            "theirs",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"tlm.certops.dev/allow-certificate": "grab"}}}),
            ),
        )
        .await
        .unwrap();
    env.wait_ready("grab", 1, Duration::from_secs(90)).await;
    env.verify_secret_with_openssl("theirs").await;
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn revoke_on_delete_revokes_only_a_certificate_with_this_certificates_key() {
    let env = Env::new("revoke-ours").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate("victim", cert_spec("victim", "victim-tls", "tlm"))
        .await;
    let mut spec = cert_spec("thief", "thief-tls", "tlm");
    spec["revokeOnDelete"] = json!(true);
    env.create_certificate("thief", spec).await;
    let victim = env.wait_ready("victim", 1, Duration::from_secs(60)).await;
    env.wait_ready("thief", 1, Duration::from_secs(60)).await;
    let victim_serial = victim.status.unwrap().serial_number.unwrap();
    // Whoever may write the status points it at the victim's certificate, while the operator
    // is away (a running operator would set the status straight before the deletion).
    op.terminate();
    env.certs()
        .patch_status(
            "thief",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"serialNumber": victim_serial}})),
        )
        .await
        .unwrap();
    env.certs().delete("thief", &Default::default()).await.unwrap();
    let mut op = env.start_operator_logging_to("restart.log", &[], &[]);
    env.wait_gone("thief", Duration::from_secs(60)).await;
    assert_eq!(
        env.tlm_status(&victim_serial).await,
        "issued",
        "the victim's certificate is not revoked"
    );
    assert_eq!(
        env.sim.counters().requests.get("revoke"),
        None,
        "no revoke was sent"
    );
    assert!(
        env.event_reasons("thief")
            .await
            .iter()
            .any(|r| r == "RevocationSkipped")
    );
    op.terminate();
}

#[tokio::test]
async fn redirects_are_not_followed_so_the_api_key_goes_nowhere_else() {
    // A server that records any request carrying an API key, and one that redirects there.
    let stolen = Arc::new(AtomicUsize::new(0));
    let seen = stolen.clone();
    let thief = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let seen = seen.clone();
        async move {
            if headers.contains_key("x-api-key") {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            "[]"
        }
    });
    let thief_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let thief_url = format!("http://{}", thief_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(thief_listener, thief).await.unwrap() });
    let target = thief_url.clone();
    let redirector = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let target = target.clone();
        async move { axum::response::Redirect::temporary(&format!("{target}{uri}")) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirector).await.unwrap() });

    let client = tlm_operator::clients::tlm::TlmClient::new(tlm_operator::clients::tlm::TlmClientConfig {
        base_url: url.clone(),
        api_key: support::API_KEY.to_string().into(),
        http: Default::default(),
        throttle: Default::default(),
        retry: tlm_operator::clients::retry::RetryPolicy::none(),
    })
    .unwrap();
    let refused = client.profile("prof-x509").await.unwrap_err();
    assert_eq!(refused.status(), Some(307), "{refused}");
    assert_eq!(
        stolen.load(Ordering::SeqCst),
        0,
        "the key never reached the other server"
    );
    // Plain http to anything but loopback is refused before any request.
    let remote = tlm_operator::clients::tlm::TlmClient::new(tlm_operator::clients::tlm::TlmClientConfig {
        base_url: "http://tlm.example.com".into(),
        api_key: support::API_KEY.to_string().into(),
        http: Default::default(),
        throttle: Default::default(),
        retry: Default::default(),
    });
    assert!(remote.is_err(), "plain http off loopback is refused");
}

#[tokio::test]
async fn a_cluster_issuers_budget_is_shared_fairly_between_namespaces() {
    let busy = Env::new("fair-busy").await;
    let quiet = Env::new("fair-quiet").await;
    busy.create_api_key_secret("tlm-api-key", support::API_KEY).await;
    let name = format!("tlm-{}", busy.ns);
    let issuers: Api<tlm_operator::api::ClusterIssuer> = Api::all(busy.client.clone());
    issuers
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "ClusterIssuer",
                "metadata": {"name": name},
                "spec": {"tlm": {"url": busy.sim.url(), "profileId": "prof-x509",
                                  "apiKeySecretRef": {"name": "tlm-api-key", "key": "api-key"}}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    // Five TLM requests a second for the whole ClusterIssuer: the busy namespace's backlog
    // takes 20 s or more to drain.
    let mut op = busy.start_operator(
        &[
            "--watch-namespaces",
            &quiet.ns,
            "--issuer-rate-limit",
            "5",
            "--issuer-burst",
            "1",
            "--issuer-concurrency",
            "2",
        ],
        &[],
    );
    let spec = |n: &str| {
        json!({"secretName": format!("{n}-tls"), "issuerRef": {"name": name, "kind": "ClusterIssuer"},
               "dnsNames": [format!("{n}.example.com")]})
    };
    const BACKLOG: usize = 100;
    for i in 0..BACKLOG {
        busy.create_certificate(&format!("b{i}"), spec(&format!("b{i}")))
            .await;
    }
    let ready_in = |env: &Env| {
        let api = env.certs();
        async move {
            api.list(&Default::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|c| condition(c, "Ready").is_some_and(|(s, _, _)| s == "True"))
                .count()
        }
    };
    // The backlog is moving: some of it is done, most of it waits for the budget.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while ready_in(&busy).await < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "the busy namespace's Certificates never became Ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = ready_in(&busy).await;
    quiet.create_certificate("q", spec("q")).await;
    quiet.wait_ready("q", 1, Duration::from_secs(120)).await;
    let after = ready_in(&busy).await;
    println!(
        "busy Certificates that became Ready while the quiet one was issued: {} (of {} waiting)",
        after - before,
        BACKLOG - before
    );
    // Round-robin turns: the quiet namespace's one order goes next, behind at most the orders
    // already admitted; first come, first served it would wait for most of the backlog.
    assert!(
        before < BACKLOG / 2 && after - before <= 8,
        "the quiet namespace waited behind {} of the busy namespace's orders ({before} were done before it came)",
        after - before
    );
    assert!(op.exited().is_none());
    op.terminate();
    busy.assert_log_clean(&op, &[]);
    issuers.delete(&name, &Default::default()).await.unwrap();
}
