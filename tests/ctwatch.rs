//! CTWatch end to end: the operator polling tlm-sim's Cert Spotter feed.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::Env;
use support::ctwatch::{create_watch_at, wait_watch, watches};
use tlm_operator::api::{CTWatch, Verdict, conditions};
use tlm_sim::{FaultRule, Injection, SimOptions};

const CAP: &[&str] = &["--ctwatch-interval-cap", "2s"];

fn sim_options() -> SimOptions {
    SimOptions {
        certspotter_empty_retry_after: Duration::from_secs(1),
        ..Default::default()
    }
}

async fn create_watch(env: &Env, name: &str, spec: serde_json::Value) {
    create_watch_at(env, name, env.sim.url(), spec).await;
}

fn seen(w: &CTWatch) -> (i64, i64) {
    w.status
        .as_ref()
        .map_or((0, 0), |s| (s.issuances_seen, s.unexpected_issuances))
}

fn rogue(names: &[&str]) -> Injection {
    Injection {
        dns_names: names.iter().map(|s| s.to_string()).collect(),
        issuer_name: Some("C=XX, O=Rogue, CN=Rogue CA".into()),
        ..Default::default()
    }
}

fn metric(text: &str, name: &str, ns: &str, watch: &str) -> f64 {
    text.lines()
        .find(|l| {
            l.starts_with(name)
                && l.contains(&format!("namespace=\"{ns}\""))
                && l.contains(&format!("name=\"{watch}\""))
        })
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn paged_history_is_judged_once_with_the_cursor_at_the_last_id() {
    let env = Env::with_sim("ct-paging", sim_options()).await;
    let mut last = String::new();
    for i in 0..250 {
        let domain = ["alpha.example", "beta.example", "gamma.example"][i % 3];
        last = env.sim.inject_issuance(rogue(&[domain])).unwrap();
        if i % 25 == 0 {
            env.sim.inject_issuance(rogue(&["unrelated.example"])).unwrap();
        }
    }
    let mut op = env.start_operator(CAP, &[]);
    create_watch(
        &env,
        "three",
        json!({"domains": ["alpha.example", "beta.example", "gamma.example"]}),
    )
    .await;
    let w = wait_watch(&env, "three", Duration::from_secs(120), "250 judged", |w| {
        seen(w).0 >= 250
    })
    .await;
    // A few more cycles: nothing is judged twice.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let w2 = watches(&env).get("three").await.unwrap();
    assert_eq!(seen(&w2), (250, 250), "every issuance judged exactly once");
    let status = w.status.unwrap();
    assert_eq!(
        status.cursor.as_deref(),
        Some(last.as_str()),
        "cursor is the last issuance id"
    );
    assert_eq!(status.recent.len(), 50, "recent is bounded");
    assert!(status.recent.iter().all(|r| r.verdict == Verdict::Unexpected));
    assert!(conditions::is_true(&status.conditions, "Ready"));
    let pages = env
        .sim
        .counters()
        .certspotter_queries_by_domains
        .get("alpha.example,beta.example,gamma.example")
        .copied()
        .unwrap_or(0);
    assert!(
        pages >= 4,
        "250 issuances at 100 per page take 3 pages and an empty one: {pages}"
    );
    let (_, metrics) = op.http_get("/metrics").await.unwrap();
    assert_eq!(
        metric(&metrics, "ctwatch_unexpected_issuances_total", &env.ns, "three"),
        250.0
    );
    assert!(
        env.event_reasons("three")
            .await
            .iter()
            .any(|r| r == "UnexpectedIssuance")
    );
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn managed_and_expected_issuances_are_expected_and_rogue_ones_flagged() {
    let env = Env::with_sim("ct-verdict", sim_options()).await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(CAP, &[]);
    env.create_certificate(
        "app",
        json!({"secretName": "app-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["app.example.org"]}),
    )
    .await;
    env.wait_ready("app", 1, Duration::from_secs(60)).await;
    create_watch(
        &env,
        "org",
        json!({"domains": ["example.org"], "includeSubdomains": true, "expectedIssuers": [{"name": "Partner CA"}]}),
    )
    .await;
    wait_watch(
        &env,
        "org",
        Duration::from_secs(60),
        "the managed certificate judged",
        |w| seen(w).0 >= 1,
    )
    .await;
    let injected_at = Instant::now();
    env.sim.inject_issuance(rogue(&["app.example.org"])).unwrap();
    env.sim
        .inject_issuance(rogue(&["www.example.org", "example.org"]))
        .unwrap();
    env.sim.inject_issuance(rogue(&["*.example.org"])).unwrap();
    env.sim
        .inject_issuance(Injection {
            dns_names: vec!["partner.example.org".into()],
            issuer_name: Some("C=US, O=Partner, CN=Partner CA".into()),
            ..Default::default()
        })
        .unwrap();
    env.sim.inject_issuance(rogue(&["example.net"])).unwrap();
    let w = wait_watch(&env, "org", Duration::from_secs(60), "all judged", |w| {
        seen(w).0 >= 5
    })
    .await;
    let latency = injected_at.elapsed();
    // Detection latency: injection to status with the Event recorded (interval cap 2s).
    println!(
        "detection latency (injection -> status/Event): {:.2}s",
        latency.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let w = watches(&env).get("org").await.unwrap_or(w);
    assert_eq!(
        seen(&w),
        (5, 3),
        "1 managed + 1 partner expected, 3 rogue unexpected; example.net not matched"
    );
    let recent = w.status.unwrap().recent;
    let reasons: Vec<&str> = recent.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons.iter().filter(|r| **r == "ManagedKey").count(),
        1,
        "{reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| **r == "ExpectedIssuer").count(),
        1,
        "{reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| **r == "UnknownKeyAndIssuer").count(),
        3,
        "{reasons:?}"
    );
    let events = env.events_for("org").await;
    let unexpected: Vec<_> = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("UnexpectedIssuance"))
        .collect();
    assert!(!unexpected.is_empty());
    assert!(
        unexpected
            .iter()
            .any(|e| e.message.as_deref().unwrap_or("").contains("Rogue CA")),
        "the Event names the issuer"
    );
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn a_restart_neither_repeats_nor_misses() {
    let env = Env::with_sim("ct-restart", sim_options()).await;
    for _ in 0..3 {
        env.sim.inject_issuance(rogue(&["restart.example"])).unwrap();
    }
    let mut op = env.start_operator_logging_to("first.log", CAP, &[]);
    create_watch(&env, "r", json!({"domains": ["restart.example"]})).await;
    wait_watch(&env, "r", Duration::from_secs(60), "3 judged", |w| seen(w).0 >= 3).await;
    op.kill();
    for _ in 0..2 {
        env.sim.inject_issuance(rogue(&["restart.example"])).unwrap();
    }
    let mut op = env.start_operator_logging_to("second.log", CAP, &[]);
    wait_watch(&env, "r", Duration::from_secs(60), "5 judged", |w| seen(w).0 >= 5).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        seen(&watches(&env).get("r").await.unwrap()),
        (5, 5),
        "the two missed while down are judged, nothing twice"
    );
    let (_, metrics) = op.http_get("/metrics").await.unwrap();
    assert_eq!(
        metric(&metrics, "ctwatch_unexpected_issuances_total", &env.ns, "r"),
        2.0,
        "the restarted process alerted only on the new ones"
    );
    op.terminate();
}

#[tokio::test]
async fn watches_sharing_flags_are_batched_ten_domains_per_query() {
    let env = Env::with_sim("ct-batch", sim_options()).await;
    let mut op = env.start_operator(CAP, &[]);
    // 12 watches x 5 domains from a pool of 37, half with includeSubdomains.
    let mut distinct = [
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    ];
    for i in 0..12 {
        let domains: Vec<String> = (0..5)
            .map(|j| format!("d{:02}.batch.example", (i * 3 + j) % 37))
            .collect();
        distinct[i % 2].extend(domains.iter().cloned());
        create_watch(
            &env,
            &format!("w{i}"),
            json!({"domains": domains, "includeSubdomains": i % 2 == 0}),
        )
        .await;
    }
    for i in 0..12 {
        wait_watch(
            &env,
            &format!("w{i}"),
            Duration::from_secs(60),
            "first poll",
            |w| w.status.as_ref().is_some_and(|s| s.last_poll_time.is_some()),
        )
        .await;
    }
    env.sim.reset_counters();
    tokio::time::sleep(Duration::from_secs(9)).await;
    let queries = env.sim.counters().certspotter_queries_by_domains;
    let expected_batches: usize = distinct.iter().map(|d| d.len().div_ceil(10)).sum();
    assert_eq!(
        queries.len(),
        expected_batches,
        "distinct domain batches per cycle = ceil(D/10) per flag group: {queries:?}"
    );
    let counts: Vec<u64> = queries.values().copied().collect();
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(
        max - min <= 1,
        "every batch is queried once per cycle: {counts:?}"
    );
    println!(
        "queries per cycle: {expected_batches} for {} + {} distinct domains",
        distinct[0].len(),
        distinct[1].len()
    );
    op.terminate();
}

#[tokio::test]
async fn throttling_is_reported_and_retry_after_honoured() {
    let env = Env::with_sim("ct-quota", sim_options()).await;
    env.sim.inject_issuance(rogue(&["quota.example"])).unwrap();
    let rules: Vec<FaultRule> = serde_json::from_value(
        json!([{"endpoint": "issuances", "throttle_rate": 1.0, "retry_after_seconds": 4, "count": 2}]),
    )
    .unwrap();
    env.sim.set_faults(rules).unwrap();
    let mut op = env.start_operator(CAP, &[]);
    create_watch(&env, "q", json!({"domains": ["quota.example"]})).await;
    let w = wait_watch(&env, "q", Duration::from_secs(60), "QuotaExceeded", |w| {
        w.status
            .as_ref()
            .and_then(|s| conditions::find(&s.conditions, "Ready"))
            .is_some_and(|c| c.status == "False" && c.reason == "QuotaExceeded")
    })
    .await;
    assert_eq!(seen(&w).0, 0);
    wait_watch(&env, "q", Duration::from_secs(60), "resumed", |w| seen(w).0 == 1).await;
    let counters = env.sim.counters();
    assert_eq!(
        counters.early_requests, 0,
        "no request before Retry-After expired"
    );
    assert!(counters.responses.get("issuances:429").copied().unwrap_or(0) >= 1);
    op.terminate();
}

#[tokio::test]
async fn a_bad_token_is_reported_and_a_fixed_secret_resumes_without_restart() {
    let options = SimOptions {
        certspotter_tokens: vec!["good-token-abc".into()],
        ..sim_options()
    };
    let env = Env::with_sim("ct-token", options).await;
    env.sim.inject_issuance(rogue(&["token.example"])).unwrap();
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    let put = |value: &str| {
        serde_json::from_value::<Secret>(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cs-token"}, "stringData": {"token": value}})).unwrap()
    };
    secrets
        .patch(
            "cs-token",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&put("bad-token-xyz")),
        )
        .await
        .unwrap();
    let mut op = env.start_operator(CAP, &[]);
    let obj = json!({"apiVersion": "tlm.certops.dev/v1alpha1", "kind": "CTWatch", "metadata": {"name": "t"},
        "spec": {"domains": ["token.example"], "source": {"certSpotter": {"url": env.sim.url(), "tokenSecretRef": {"name": "cs-token", "key": "token"}}}}});
    watches(&env)
        .create(&PostParams::default(), &serde_json::from_value(obj).unwrap())
        .await
        .unwrap();
    wait_watch(&env, "t", Duration::from_secs(60), "Unauthorized", |w| {
        w.status
            .as_ref()
            .and_then(|s| conditions::find(&s.conditions, "Ready"))
            .is_some_and(|c| c.status == "False" && c.reason == "Unauthorized")
    })
    .await;
    secrets
        .patch(
            "cs-token",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&put("good-token-abc")),
        )
        .await
        .unwrap();
    let w = wait_watch(&env, "t", Duration::from_secs(120), "resumed", |w| seen(w).0 == 1).await;
    assert!(conditions::is_true(&w.status.unwrap().conditions, "Ready"));
    op.terminate();
    env.assert_log_clean(&op, &["bad-token-xyz", "good-token-abc"]);
}

#[tokio::test]
async fn unexpected_issuances_from_the_configured_issuer_get_certcentral_evidence() {
    let env = Env::with_sim("ct-evidence", sim_options()).await;
    let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &env.ns);
    let devkey: Secret = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dc-devkey"}, "stringData": {"key": "test-devkey"}})).unwrap();
    secrets.create(&PostParams::default(), &devkey).await.unwrap();
    let id = env.sim.inject_issuance(rogue(&["evidence.example"])).unwrap();
    let mut op = env.start_operator(CAP, &[]);
    create_watch(
        &env,
        "e",
        json!({"domains": ["evidence.example"], "digicertEvidence": {
            "url": env.sim.url(), "orderId": "4242", "issuerContains": "Rogue CA",
            "apiKeySecretRef": {"name": "dc-devkey", "key": "key"}}}),
    )
    .await;
    let w = wait_watch(&env, "e", Duration::from_secs(60), "judged", |w| seen(w).0 == 1).await;
    let entry = &w.status.unwrap().recent[0];
    assert_eq!(entry.id, id);
    let evidence = entry.evidence_sha256.clone().expect("evidence recorded");
    // The same certificate, as Cert Spotter serves it with expand=cert.
    let page: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/v1/issuances?domain=evidence.example&expand=cert",
            env.sim.url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page[0]["cert"]["sha256"].as_str(),
        Some(evidence.as_str()),
        "the evidence is that certificate's SHA-256"
    );
    assert!(env.sim.counters().requests.get("ctmonitor").copied().unwrap_or(0) >= 1);
    op.terminate();
    env.assert_log_clean(&op, &["test-devkey"]);
}
