//! Profiles that need approval, as TLM runs them: submit answers with a request id and no
//! serial, the operator picks the request up (with the profile in the body) until an approver
//! decides, and a crash between submit and recording the request orders nothing twice.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{Env, condition};
use tlm_sim::SimOptions;

fn pickups(env: &Env) -> usize {
    env.sim
        .counters()
        .log
        .iter()
        .filter(|e| e.endpoint == "pickup")
        .count()
}

fn total_orders(env: &Env) -> u64 {
    env.sim.counters().orders_by_public_key.values().sum()
}

#[tokio::test]
async fn a_request_approved_after_several_pickups_is_delivered() {
    let options = SimOptions {
        auto_approve_after_polls: Some(3),
        ..SimOptions::default()
    };
    let env = Env::with_sim("approve", options).await;
    env.issuer_for("tlm", "prof-pending").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "appr",
        json!({"secretName": "appr-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["appr.example.com"]}),
    )
    .await;
    let waiting = env
        .wait_cert("appr", Duration::from_secs(60), "Issuing=False Pending", |c| {
            condition(c, "Issuing").is_some_and(|(s, r, _)| s == "False" && r == "Pending")
        })
        .await;
    let pending = waiting.status.clone().unwrap().pending_request.unwrap();
    assert_eq!(
        pending.serial_number, None,
        "an approval request has no serial yet"
    );
    let request_id = pending.pickup_request_id.expect("the request id is recorded");
    let (_, _, message) = condition(&waiting, "Issuing").unwrap();
    assert!(
        message.contains(&request_id),
        "the condition names the request: {message}"
    );

    let cert = env.wait_ready("appr", 1, Duration::from_secs(90)).await;
    let issued = env.sim_request(&request_id);
    assert_eq!(issued.status, "ISSUED");
    assert_eq!(
        cert.status.unwrap().serial_number,
        issued.serial_number,
        "the Secret holds the certificate the request produced"
    );
    // Three pickups answered PENDING and the fourth ISSUED; backoff keeps it from hammering.
    let n = pickups(&env);
    assert!((4..=10).contains(&n), "{n} pickups");
    assert_eq!(total_orders(&env), 1);
    env.verify_secret_with_openssl("appr-tls").await;
    assert!(env.event_reasons("appr").await.iter().any(|r| r == "Pending"));
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn a_rejected_request_fails_clearly_and_is_not_retried_hot() {
    let env = Env::new("reject").await;
    env.issuer_for("tlm", "prof-pending").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "rej",
        json!({"secretName": "rej-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["rej.example.com"]}),
    )
    .await;
    let (_, request_id) = env.wait_for_approval_request("rej").await;
    env.sim.reject(&request_id).unwrap();
    let failed = env
        .wait_cert("rej", Duration::from_secs(60), "Ready=False Rejected", |c| {
            condition(c, "Ready").is_some_and(|(s, r, _)| s == "False" && r == "Rejected")
        })
        .await;
    let (_, _, message) = condition(&failed, "Issuing").unwrap();
    assert!(
        message.contains(&request_id) && message.contains("rejected"),
        "{message}"
    );
    assert!(env.secrets().get_opt("rej-tls").await.unwrap().is_none());
    let after = pickups(&env);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(pickups(&env), after, "a rejected request is not polled again");
    assert_eq!(total_orders(&env), 1, "no new order inside the failure backoff");
    assert!(env.event_reasons("rej").await.iter().any(|r| r == "Rejected"));
    op.terminate();
}

#[tokio::test]
async fn a_crash_between_submit_and_recording_the_request_orders_once() {
    let env = Env::new("appr-crash").await;
    env.issuer_for("tlm", "prof-pending").await;
    let mut crashing =
        env.start_operator_logging_to("crash.log", &[], &[("TLM_OPERATOR_CRASH_AT", "after-submit")]);
    env.create_certificate(
        "lost",
        json!({"secretName": "lost-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["lost.example.com"]}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while crashing.exited().is_none() {
        assert!(
            Instant::now() < deadline,
            "the operator did not reach its crash point"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let requests = env.sim.requests();
    assert_eq!(requests.len(), 1, "the submit reached TLM");
    let request_id = requests[0].request_id.clone().expect("a pending request id");
    let before = env.certs().get("lost").await.unwrap();
    let record = before
        .status
        .unwrap()
        .pending_request
        .expect("the in-flight record");
    assert_eq!(
        (record.serial_number, record.pickup_request_id),
        (None, None),
        "the crash came before the request id was recorded"
    );

    let mut op = env.start_operator_logging_to("restart.log", &[], &[]);
    let unconfirmed = env
        .wait_cert("lost", Duration::from_secs(60), "SubmitUnconfirmed", |c| {
            condition(c, "Issuing").is_some_and(|(_, r, _)| r == "SubmitUnconfirmed")
        })
        .await;
    let (_, _, message) = condition(&unconfirmed, "Issuing").unwrap();
    assert!(message.contains("awaiting approval"), "{message}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        total_orders(&env),
        1,
        "no second order while the first may be pending"
    );
    env.sim.approve(&request_id).unwrap();
    let cert = env.wait_ready("lost", 1, Duration::from_secs(90)).await;
    assert_eq!(total_orders(&env), 1);
    let issued = env.sim_request(&request_id);
    assert_eq!(cert.status.unwrap().serial_number, issued.serial_number);
    let data = env.secret_data("lost-tls").await;
    let key =
        tlm_operator::pki::PrivateKey::from_pem(std::str::from_utf8(&data["tls.key"]).unwrap()).unwrap();
    assert_eq!(
        key.spki_sha256_hex(),
        issued.public_key_sha256,
        "the key the request was made for"
    );
    env.verify_secret_with_openssl("lost-tls").await;
    op.terminate();
    env.assert_log_clean(&op, &[]);
    env.assert_log_clean(&crashing, &[]);
}
