//! A TLM that misbehaves after it acted: the order is taken but the answer is lost, or what it
//! issues does not fit (another key, a chain that does not link, other names). The operator
//! orders once per key, and nothing that does not verify reaches the Secret.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Env, condition};
use tlm_sim::FaultRule;

fn rule(value: serde_json::Value) -> Vec<FaultRule> {
    serde_json::from_value(json!([value])).unwrap()
}

#[tokio::test]
async fn an_order_whose_answer_is_lost_is_found_not_repeated() {
    let env = Env::new("lost-answer").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    let cases = [
        (
            "after503",
            json!({"endpoint": "submit", "after_error_rate": 1.0, "error_statuses": [503], "count": 1}),
            "submit:503",
        ),
        (
            "afterdrop",
            json!({"endpoint": "submit", "after_drop_rate": 1.0, "count": 1}),
            "submit:dropped",
        ),
    ];
    for (name, fault, response) in &cases {
        env.sim.set_faults(rule(fault.clone())).unwrap();
        env.create_certificate(
            name,
            json!({"secretName": format!("{name}-tls"), "issuerRef": {"name": "tlm"}, "dnsNames": [format!("{name}.example.com")]}),
        )
        .await;
        env.wait_ready(name, 1, Duration::from_secs(90)).await;
        let counters = env.sim.counters();
        assert_eq!(
            counters.responses.get(*response),
            Some(&1),
            "{name}: the service acted and the answer was lost: {:?}",
            counters.responses
        );
        let key = support::spki_of_secret_data(&env.secret_data(&format!("{name}-tls")).await);
        assert_eq!(
            counters.orders_by_public_key.get(&key),
            Some(&1),
            "{name}: exactly one order for the Secret's key"
        );
        env.verify_secret_with_openssl(&format!("{name}-tls")).await;
    }
    let orders: u64 = env.sim.counters().orders_by_public_key.values().sum();
    assert_eq!(orders, 2, "one order per Certificate");
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn a_certificate_that_does_not_fit_never_reaches_the_secret() {
    let env = Env::new("misissue").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    let cases = [
        ("wrongkey", "wrong_key_rate", "KeyMismatch"),
        ("brokenchain", "broken_chain_rate", "InvalidChain"),
        ("wrongnames", "wrong_names_rate", "CertificateMismatch"),
    ];
    for (name, fault, reason) in cases {
        env.sim
            .set_faults(rule(json!({"endpoint": "submit", fault: 1.0, "count": 1})))
            .unwrap();
        env.create_certificate(
            name,
            json!({"secretName": format!("{name}-tls"), "issuerRef": {"name": "tlm"}, "dnsNames": [format!("{name}.example.com")]}),
        )
        .await;
        let failed = env
            .wait_cert(
                name,
                Duration::from_secs(60),
                &format!("Ready=False {reason}"),
                |c| condition(c, "Ready").is_some_and(|(s, r, _)| s == "False" && r == reason),
            )
            .await;
        let status = failed.status.unwrap();
        assert_eq!(status.failed_issuance_attempts, Some(1), "{name}");
        let (_, _, message) = condition(&env.certs().get(name).await.unwrap(), "Issuing").unwrap();
        assert!(message.contains("next attempt in"), "{name}: {message}");
        assert!(
            env.secrets()
                .get_opt(&format!("{name}-tls"))
                .await
                .unwrap()
                .is_none(),
            "{name}: nothing written to the Secret"
        );
        assert!(
            env.event_reasons(name).await.iter().any(|r| r == reason),
            "{name}: Warning Event"
        );
    }
    // No hot loop: inside the failure backoff nobody orders or polls again.
    let submits = |env: &Env| env.sim.counters().requests.get("submit").copied().unwrap_or(0);
    let before = submits(&env);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(submits(&env), before, "no new order during the backoff");
    assert_eq!(before, 3, "one submit per Certificate");
    op.terminate();
    env.assert_log_clean(&op, &[]);
}
