//! Fault injection: latency, errors, throttling (both Retry-After forms), truncation, garbage,
//! dropped connections, rule counts, and the early-request accounting.

use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use serde_json::json;
use tlm_sim::FaultRule;

use crate::support::*;

fn rule(endpoint: &str) -> FaultRule {
    FaultRule {
        endpoint: endpoint.to_string(),
        ..FaultRule::default()
    }
}

#[tokio::test]
async fn latency_delays_only_the_named_endpoint() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        latency_ms: 400,
        ..rule("profiles")
    }])
    .expect("valid rule");
    let tlm = Tlm::new(&sim);
    let started = Instant::now();
    assert_eq!(tlm.get("/mpki/api/v2/profile").await.status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert_eq!(
        tlm.get("/mpki/api/v1/certificate-search").await.status,
        StatusCode::OK
    );
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "search was delayed: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn error_rate_with_count_then_recovery() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        error_rate: 1.0,
        error_statuses: vec![503],
        count: Some(2),
        ..rule("profiles")
    }])
    .expect("valid rule");
    let tlm = Tlm::new(&sim);
    for _ in 0..2 {
        let reply = tlm.get("/mpki/api/v2/profile").await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.error_code(), "internal_error");
    }
    assert_eq!(
        tlm.get("/mpki/api/v2/profile").await.status,
        StatusCode::OK,
        "count exhausted"
    );
    let counters = sim.counters();
    assert_eq!(counters.responses.get("profiles:503"), Some(&2));
    assert_eq!(counters.responses.get("profiles:200"), Some(&1));
    assert_eq!(counters.requests.get("profiles"), Some(&3));
}

#[tokio::test]
async fn error_statuses_are_drawn_from_the_list() {
    let sim = start_with(|o| o.seed = Some(3)).await;
    sim.set_faults(vec![FaultRule {
        error_rate: 1.0,
        error_statuses: vec![500, 502],
        ..rule("*")
    }])
    .expect("valid rule");
    let tlm = Tlm::new(&sim);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        seen.insert(tlm.get("/mpki/api/v1/certificate-search").await.status.as_u16());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![500, 502]);
    // hello is never faulted.
    assert_eq!(
        Tlm::new(&sim).get("/mpki/api/v1/hello").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn throttle_with_seconds_and_early_request_accounting() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        throttle_rate: 1.0,
        retry_after_seconds: 1,
        count: Some(1),
        ..rule("status")
    }])
    .expect("valid rule");
    let tlm = Tlm::new(&sim);
    let other_key = Tlm::with_key(&sim, Some(LIMITED_KEY));

    let started = Instant::now();
    let throttled = tlm.status("AB").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.header("retry-after").as_deref(), Some("1"));
    assert_eq!(throttled.error_code(), "rate_limit_exceeded");

    // Right away: still refused, but plausibly in flight, so not early.
    let again = tlm.status("AB").await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    if started.elapsed() < Duration::from_millis(90) {
        assert_eq!(
            sim.counters().early_requests,
            0,
            "an in-flight retry is not early"
        );
    }
    // Another key is not throttled.
    assert_eq!(other_key.status("AB").await.status, StatusCode::NOT_FOUND);

    tokio::time::sleep(Duration::from_millis(200)).await;
    let early = tlm.status("AB").await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sim.counters().early_requests, 1);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        tlm.status("AB").await.status,
        StatusCode::NOT_FOUND,
        "window over, rule spent"
    );
    let counters = sim.counters();
    assert_eq!(counters.early_requests, 1);
    let throttled_log: Vec<bool> = counters
        .log
        .iter()
        .filter(|e| e.endpoint == "status")
        .map(|e| e.throttled)
        .collect();
    assert_eq!(throttled_log, vec![true, true, false, true, false]);
}

#[tokio::test]
async fn throttle_with_http_date() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        throttle_rate: 1.0,
        retry_after_seconds: 2,
        retry_after_http_date: true,
        count: Some(1),
        ..rule("search")
    }])
    .expect("valid rule");
    let reply = Tlm::new(&sim).get("/mpki/api/v1/certificate-search").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after = reply.header("retry-after").expect("Retry-After");
    assert!(retry_after.ends_with(" GMT"), "{retry_after}");
    let at = httpdate::parse_http_date(&retry_after).expect("an HTTP date");
    let wait = at.duration_since(SystemTime::now()).expect("in the future");
    assert!(
        wait > Duration::from_millis(900) && wait <= Duration::from_secs(3),
        "{wait:?}"
    );
}

#[tokio::test]
async fn truncated_body_is_half_of_the_real_one() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let full = tlm.get("/mpki/api/v2/profile").await;
    sim.set_faults(vec![FaultRule {
        truncate_rate: 1.0,
        count: Some(1),
        ..rule("profiles")
    }])
    .expect("rule");
    let cut = tlm.get("/mpki/api/v2/profile").await;
    assert_eq!(cut.status, StatusCode::OK);
    assert_eq!(cut.text.len(), full.text.len() / 2);
    assert!(full.text.starts_with(&cut.text));
    assert!(serde_json::from_str::<serde_json::Value>(&cut.text).is_err());
}

#[tokio::test]
async fn malformed_body_is_not_json() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    sim.set_faults(vec![FaultRule {
        malformed_rate: 1.0,
        count: Some(1),
        ..rule("submit")
    }])
    .expect("rule");
    let key = key_pair(KeyAlg::P256);
    let reply = tlm
        .submit(&top_level_request(
            "prof-x509",
            &csr_pem(&key, Some("m.example.com"), &[]),
            "m.example.com",
            &[],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "the real status survives");
    assert!(
        serde_json::from_str::<serde_json::Value>(&reply.text).is_err(),
        "{}",
        reply.text
    );
    // The order happened anyway: a client that retries will order twice.
    assert_eq!(
        sim.counters()
            .orders_by_public_key
            .get(&sha256_hex(&spki_der(&key))),
        Some(&1)
    );
}

#[tokio::test]
async fn dropped_connection_gets_no_response() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        drop_rate: 1.0,
        count: Some(1),
        ..rule("status")
    }])
    .expect("rule");
    let tlm = Tlm::new(&sim);
    let dropped = tlm
        .client
        .get(tlm.url("/mpki/api/v1/certificate/AB"))
        .header("x-api-key", KEY)
        .send()
        .await;
    let error = dropped.expect_err("no response");
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    assert_eq!(
        tlm.status("AB").await.status,
        StatusCode::NOT_FOUND,
        "next request is served"
    );
    let counters = sim.counters();
    assert_eq!(counters.responses.get("status:dropped"), Some(&1));
    assert!(
        counters
            .log
            .iter()
            .any(|e| e.endpoint == "status" && e.status == 0)
    );
}

#[tokio::test]
async fn faults_over_http_admin_api() {
    let sim = start().await;
    let http = client();
    let url = format!("{}/sim/faults", sim.url());
    let bad = send(
        http.put(&url)
            .json(&json!([{"endpoint": "nowhere", "error_rate": 1.0}])),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let typo = send(
        http.put(&url)
            .json(&json!([{"endpoint": "submit", "eror_rate": 1.0}])),
    )
    .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    let set = send(
        http.put(&url)
            .json(&json!([{"endpoint": "search", "error_rate": 1.0, "error_statuses": [502]}])),
    )
    .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT);
    let listed = send(http.get(&url)).await.json();
    assert_eq!(listed[0]["endpoint"], "search");
    assert_eq!(
        Tlm::new(&sim).get("/mpki/api/v1/certificate-search").await.status,
        StatusCode::BAD_GATEWAY
    );
    let cleared = send(http.delete(&url)).await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    assert_eq!(
        Tlm::new(&sim).get("/mpki/api/v1/certificate-search").await.status,
        StatusCode::OK
    );
    assert!(
        sim.set_faults(vec![FaultRule {
            error_rate: 2.0,
            ..rule("submit")
        }])
        .is_err()
    );
}

#[tokio::test]
async fn faults_from_options_apply_from_the_start() {
    let sim = start_with(|o| {
        o.faults =
            vec![FaultRule::parse_spec("issuances:error_rate=1,error_statuses=500,count=1").expect("spec")]
    })
    .await;
    let url = format!("{}/v1/issuances?domain=example.com", sim.url());
    let first = send(client().get(&url)).await;
    assert_eq!(first.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        first.json()["code"],
        "internal_error",
        "Cert Spotter errors are bare objects"
    );
    assert_eq!(send(client().get(&url)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn clearing_faults_lifts_throttle_windows() {
    let sim = start().await;
    sim.set_faults(vec![FaultRule {
        throttle_rate: 1.0,
        retry_after_seconds: 60,
        ..rule("status")
    }])
    .expect("rule");
    let tlm = Tlm::new(&sim);
    assert_eq!(tlm.status("AB").await.status, StatusCode::TOO_MANY_REQUESTS);
    sim.clear_faults();
    assert_eq!(tlm.status("AB").await.status, StatusCode::NOT_FOUND);
}
