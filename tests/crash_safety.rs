//! Crashes at every step, and failover between replicas: no key lost, no second order.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::Env;
use tlm_sim::FaultRule;

async fn wait_exit(op: &mut testkit::OperatorProcess, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = op.exited() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the operator did not crash at its crash point"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_crash_at_any_step_loses_no_key_and_orders_once() {
    let env = Env::new("crash").await;
    env.issuer_for("tlm", "prof-x509").await;
    crash_at_every_step(&env, "tlm", &ALL_POINTS, support::API_KEY).await;
}

#[tokio::test]
async fn a_crash_at_any_step_through_certcentral_loses_no_key_and_orders_once() {
    let env = Env::new("cc-crash-all").await;
    env.certcentral_issuer_for("cc", json!({"skipApproval": true}))
        .await;
    crash_at_every_step(&env, "cc", &ALL_POINTS, support::CERTCENTRAL_API_KEY).await;
}

/// After `after-submit` a Qualys request cannot be found again (no list): the lifecycle waits
/// rather than enrolling twice, which `qualys_issuance` shows; the other steps recover here.
#[tokio::test]
async fn a_crash_at_any_other_step_through_qualys_loses_no_key_and_orders_once() {
    let env = Env::new("q-crash-all").await;
    env.qualys_issuer_for("q", json!({})).await;
    crash_at_every_step(
        &env,
        "q",
        &["after-begin", "after-key", "after-secret"],
        support::qualys::QUALYS_PASSWORD,
    )
    .await;
}

const ALL_POINTS: [&str; 4] = ["after-begin", "after-key", "after-submit", "after-secret"];

/// One Certificate per crash point, issued through Issuer `issuer`: the operator crashes at the
/// point, a new one finishes the issuance; each Secret's key was ordered exactly once.
async fn crash_at_every_step(env: &Env, issuer: &str, points: &[&str], secret: &str) {
    for &point in points {
        let name = format!("c-{point}");
        let mut crashing =
            env.start_operator_logging_to(&format!("{point}.log"), &[], &[("TLM_OPERATOR_CRASH_AT", point)]);
        env.create_certificate(&name, json!({"secretName": format!("{name}-tls"), "issuerRef": {"name": issuer}, "dnsNames": [format!("{name}.example.com")]})).await;
        let status = wait_exit(&mut crashing, Duration::from_secs(60)).await;
        assert!(!status.success(), "{point}: crashed");
        assert!(
            crashing
                .logs()
                .contains(&format!("TLM_OPERATOR_CRASH_AT={point}")),
            "{point}: crashed at the point"
        );
        let mut op = env.start_operator_logging_to(&format!("{point}-restart.log"), &[], &[]);
        env.wait_ready(&name, 1, Duration::from_secs(60)).await;
        op.terminate();
        env.assert_log_clean(&op, &[secret]);
        env.assert_log_clean(&crashing, &[secret]);
    }
    let orders = env.sim.counters().orders_by_public_key;
    for point in points {
        let data = env.secret_data(&format!("c-{point}-tls")).await;
        let key = support::spki_of_secret_data(&data);
        assert_eq!(
            orders.get(&key),
            Some(&1),
            "{point}: the Secret's key was ordered exactly once"
        );
        env.verify_secret_with_openssl(&format!("c-{point}-tls")).await;
    }
    assert_eq!(
        orders.values().sum::<u64>(),
        points.len() as u64,
        "no order beyond one per Certificate: {orders:?}"
    );
    // No next-key Secret is left behind.
    let leftovers: Vec<_> = env
        .secrets()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|s| {
            s.metadata
                .labels
                .clone()
                .unwrap_or_default()
                .contains_key("tlm.certops.dev/next-private-key")
        })
        .collect();
    assert!(leftovers.is_empty(), "{} next-key Secrets left", leftovers.len());
}

#[tokio::test]
async fn kill_9_while_the_order_is_in_flight_orders_once() {
    let env = Env::new("kill9").await;
    env.issuer_for("tlm", "prof-x509").await;
    let slow: Vec<FaultRule> =
        serde_json::from_value(json!([{"endpoint": "submit", "latency_ms": 3000}])).unwrap();
    env.sim.set_faults(slow).unwrap();
    let mut op = env.start_operator_logging_to("first.log", &[], &[]);
    env.create_certificate("inflight", json!({"secretName": "inflight-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["inflight.example.com"]})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.sim.counters().requests.get("submit").copied().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no submit arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    op.kill();
    env.sim.clear_faults();
    // Let the simulator finish whatever it does with the abandoned request.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut op = env.start_operator_logging_to("second.log", &[], &[]);
    env.wait_ready("inflight", 1, Duration::from_secs(60)).await;
    let orders = env.sim.counters().orders_by_public_key;
    let key = support::spki_of_secret_data(&env.secret_data("inflight-tls").await);
    assert_eq!(orders.get(&key), Some(&1), "{orders:?}");
    assert_eq!(orders.values().sum::<u64>(), 1, "one order in all: {orders:?}");
    op.terminate();
}

#[tokio::test]
async fn only_the_leader_reconciles_and_a_standby_takes_over() {
    let env = Env::new("leader").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut a = env.start_operator_logging_to("a.log", &["--leader-elect"], &[("POD_NAME", "replica-a")]);
    a.wait_ready(Duration::from_secs(30)).await.unwrap();
    let mut b = env.start_operator_logging_to("b.log", &["--leader-elect"], &[("POD_NAME", "replica-b")]);
    b.wait_ready(Duration::from_secs(30)).await.unwrap();
    env.create_certificate(
        "one",
        json!({"secretName": "one-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["one.example.com"]}),
    )
    .await;
    env.wait_ready("one", 1, Duration::from_secs(60)).await;
    let leading = |op: &testkit::OperatorProcess| op.logs().contains("\"message\":\"leading\"");
    let reconciled = |op: &testkit::OperatorProcess| op.logs().contains("issuance started");
    assert!(leading(&a) ^ leading(&b), "exactly one leader");
    let (mut leader, mut standby) = if leading(&a) { (a, b) } else { (b, a) };
    assert!(
        reconciled(&leader) && !reconciled(&standby),
        "only the leader reconciles"
    );

    leader.kill();
    env.create_certificate(
        "two",
        json!({"secretName": "two-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["two.example.com"]}),
    )
    .await;
    // The Lease expires after 15s; the standby then takes over.
    env.wait_ready("two", 1, Duration::from_secs(90)).await;
    assert!(leading(&standby), "the standby took over");
    assert!(reconciled(&standby));
    let status = standby.terminate().expect("exited");
    assert!(status.success(), "graceful shutdown on SIGTERM: {status}");
    assert!(
        standby.logs().contains("lease released"),
        "the Lease is released on shutdown"
    );
    env.assert_log_clean(&standby, &[]);
    env.assert_log_clean(&leader, &[]);
}
