//! Faults that strike after the real work is done (the order is taken, the answer is lost),
//! and clients that hang up before the answer: in every case the order stays.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tlm_sim::FaultRule;
use tokio::io::AsyncWriteExt;

use crate::support::*;

fn submit_rule() -> FaultRule {
    FaultRule {
        endpoint: "submit".into(),
        count: Some(1),
        ..FaultRule::default()
    }
}

fn orders(sim: &tlm_sim::Sim, key: &rcgen::KeyPair) -> Option<u64> {
    sim.counters()
        .orders_by_public_key
        .get(&sha256_hex(&spki_der(key)))
        .copied()
}

#[tokio::test]
async fn after_error_takes_the_order_then_answers_an_error() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        after_error_rate: 1.0,
        error_statuses: vec![503],
        ..submit_rule()
    }])
    .expect("rule");
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let reply = tlm
        .submit(&top_level_request(
            "prof-x509",
            &csr_pem(&key, None, &[]),
            "after.example.com",
            &[],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.error_code(), "internal_error");
    assert_eq!(orders(&sim, &key), Some(1), "the order was taken");
    let requests = sim.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, "ISSUED");
    let found = tlm.search("common_name=after.example.com").await.json();
    assert_eq!(found["total"], 1, "the certificate exists");
    assert_eq!(sim.counters().responses.get("submit:503"), Some(&1));
}

#[tokio::test]
async fn after_drop_takes_the_order_then_hangs_up() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        after_drop_rate: 1.0,
        ..submit_rule()
    }])
    .expect("rule");
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let sent = tlm
        .client
        .post(tlm.url("/mpki/api/v1/certificate"))
        .header("x-api-key", KEY)
        .json(&top_level_request(
            "prof-x509",
            &csr_pem(&key, None, &[]),
            "gone.example.com",
            &[],
        ))
        .send()
        .await;
    let error = sent.expect_err("no answer");
    assert!(!error.is_timeout(), "{error:?}");
    assert_eq!(orders(&sim, &key), Some(1));
    assert_eq!(sim.counters().responses.get("submit:dropped"), Some(&1));
    assert_eq!(
        tlm.search("common_name=gone.example.com").await.json()["total"],
        1
    );
}

/// A raw client writes a whole submit and closes its socket at once; the sim (delayed by a
/// latency fault, so the close certainly comes first) still serves the request.
#[tokio::test]
async fn a_client_that_hangs_up_still_leaves_one_order() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        latency_ms: 300,
        ..submit_rule()
    }])
    .expect("rule");
    let key = key_pair(KeyAlg::P256);
    let body = serde_json::to_vec(&top_level_request(
        "prof-x509",
        &csr_pem(&key, None, &[]),
        "hangup.example.com",
        &[],
    ))
    .expect("json");
    let mut request = format!(
        "POST /mpki/api/v1/certificate HTTP/1.1\r\nHost: {}\r\nx-api-key: {KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        sim.local_addr(),
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let mut socket = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .expect("connect");
    socket.write_all(&request).await.expect("request written");
    socket.shutdown().await.expect("shutdown");
    drop(socket);

    let deadline = Instant::now() + Duration::from_secs(10);
    while orders(&sim, &key).is_none() {
        assert!(
            Instant::now() < deadline,
            "the order was lost with the connection"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(orders(&sim, &key), Some(1), "exactly one order");
    assert_eq!(sim.requests().len(), 1);
}

/// The same with an ordinary client that gives up (times out) before the answer.
#[tokio::test]
async fn a_client_that_times_out_still_leaves_one_order() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        latency_ms: 500,
        ..submit_rule()
    }])
    .expect("rule");
    let key = key_pair(KeyAlg::P256);
    let tlm = Tlm::new(&sim);
    let sent = tlm
        .client
        .post(tlm.url("/mpki/api/v1/certificate"))
        .header("x-api-key", KEY)
        .timeout(Duration::from_millis(100))
        .json(&top_level_request(
            "prof-x509",
            &csr_pem(&key, None, &[]),
            "timeout.example.com",
            &[],
        ))
        .send()
        .await;
    assert!(sent.expect_err("timed out").is_timeout());
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(orders(&sim, &key), Some(1));
    let counters = sim.counters();
    assert_eq!(
        counters.responses.get("submit:201"),
        Some(&1),
        "served to completion"
    );
}
