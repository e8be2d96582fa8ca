//! Waiting well: approval workflows, broken credentials and a misbehaving TLM.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{Env, condition};
use tlm_sim::FaultRule;

#[tokio::test]
async fn pending_approval_is_picked_up_with_backoff_until_approved() {
    let env = Env::new("wait-pending").await;
    env.issuer_for("tlm", "prof-pending").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "pend",
        json!({"secretName": "pend-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["pend.example.com"]}),
    )
    .await;
    let (_, request_id) = env.wait_for_approval_request("pend").await;
    assert_eq!(
        condition(&env.certs().get("pend").await.unwrap(), "Ready")
            .unwrap()
            .0,
        "False"
    );
    let watched_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let pickups = env
        .sim
        .counters()
        .log
        .iter()
        .filter(|e| e.endpoint == "pickup" && e.path.ends_with(&request_id))
        .count();
    // A quarter of the request's age between pickups, at least 2s: ~8 in the first 20s.
    // Hammering at the controller's speed would be hundreds.
    assert!(
        (3..=12).contains(&pickups),
        "{pickups} pickups in {:?}",
        watched_from.elapsed()
    );
    env.sim.approve(&request_id).unwrap();
    let cert = env.wait_ready("pend", 1, Duration::from_secs(60)).await;
    let issued = env.sim_request(&request_id);
    assert_eq!(cert.status.unwrap().serial_number, issued.serial_number);
    env.verify_secret_with_openssl("pend-tls").await;
    assert!(env.event_reasons("pend").await.iter().any(|r| r == "Pending"));
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn wrong_api_key_is_reported_and_a_fixed_secret_takes_effect_without_restart() {
    let env = Env::new("wait-auth").await;
    env.create_api_key_secret("tlm-api-key", "wrong-key-1234").await;
    env.create_issuer("tlm", "prof-x509", "tlm-api-key").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "auth",
        json!({"secretName": "auth-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["auth.example.com"]}),
    )
    .await;
    let issuers: kube::Api<tlm_operator::api::Issuer> = kube::Api::namespaced(env.client.clone(), &env.ns);
    let deadline = Instant::now() + Duration::from_secs(30);
    let issuer_condition = loop {
        let issuer = issuers.get("tlm").await.unwrap();
        let c = issuer
            .status
            .and_then(|s| tlm_operator::api::conditions::find(&s.conditions, "Ready").cloned());
        if let Some(c) = c {
            break c;
        }
        assert!(Instant::now() < deadline, "issuer never checked");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (issuer_condition.status.as_str(), issuer_condition.reason.as_str()),
        ("False", "Unauthorized")
    );
    let cert = env
        .wait_cert(
            "auth",
            Duration::from_secs(30),
            "Ready=False IssuerNotReady",
            |c| condition(c, "Ready").is_some_and(|(s, r, _)| s == "False" && r == "IssuerNotReady"),
        )
        .await;
    let (_, _, message) = condition(&cert, "Ready").unwrap();
    assert!(
        message.contains("Unauthorized"),
        "the condition says why: {message}"
    );
    assert!(env.secrets().get_opt("auth-tls").await.unwrap().is_none());

    env.create_api_key_secret("tlm-api-key", support::API_KEY).await;
    env.wait_ready("auth", 1, Duration::from_secs(90)).await;
    env.verify_secret_with_openssl("auth-tls").await;
    op.terminate();
    env.assert_log_clean(&op, &["wrong-key-1234"]);
}

#[tokio::test]
async fn unavailable_and_throttling_tlm_still_issues_everything_without_early_requests() {
    let env = Env::new("wait-faults").await;
    env.issuer_for("tlm", "prof-x509").await;
    // The first rules make sure both kinds happen at least twice; the rest is random.
    let rules: Vec<FaultRule> = serde_json::from_value(json!([
        {"endpoint": "*", "throttle_rate": 1.0, "retry_after_seconds": 3, "count": 2},
        {"endpoint": "submit", "error_rate": 1.0, "error_statuses": [503], "count": 2},
        {"endpoint": "*", "error_rate": 0.3, "error_statuses": [503]},
        {"endpoint": "*", "throttle_rate": 0.1, "retry_after_seconds": 3}
    ]))
    .unwrap();
    env.sim.set_faults(rules).unwrap();
    let mut op = env.start_operator(&[], &[]);
    let names: Vec<String> = (0..8).map(|i| format!("flaky-{i}")).collect();
    for name in &names {
        env.create_certificate(name, json!({"secretName": format!("{name}-tls"), "issuerRef": {"name": "tlm"}, "dnsNames": [format!("{name}.example.com")]})).await;
    }
    for name in &names {
        env.wait_ready(name, 1, Duration::from_secs(180)).await;
    }
    let counters = env.sim.counters();
    let throttled = counters
        .responses
        .iter()
        .filter(|(k, _)| k.ends_with(":429"))
        .map(|(_, v)| v)
        .sum::<u64>();
    let unavailable = counters
        .responses
        .iter()
        .filter(|(k, _)| k.ends_with(":503"))
        .map(|(_, v)| v)
        .sum::<u64>();
    assert!(
        throttled > 0 && unavailable > 0,
        "faults were injected: {:?}",
        counters.responses
    );
    assert_eq!(
        counters.early_requests, 0,
        "no request before Retry-After expired"
    );
    let orders: u64 = counters.orders_by_public_key.values().sum();
    assert_eq!(
        orders,
        names.len() as u64,
        "one order per Certificate: {:?}",
        counters.orders_by_public_key
    );
    for name in &names {
        env.verify_secret_with_openssl(&format!("{name}-tls")).await;
    }
    op.terminate();
    env.assert_log_clean(&op, &[]);
}
