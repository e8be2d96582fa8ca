//! CTWatch against hostile tenants: anyone who may create a CTWatch chooses its source URL, so
//! a source may answer anything. None of it may stop or silence another tenant's monitoring.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;
use serde_json::json;
use support::Env;
use support::ctwatch::{create_watch_at as create_watch, wait_watch};
use tlm_operator::api::{CTWatch, KeyAlgorithm, Verdict, conditions};
use tlm_operator::pki::PrivateKey;
use tlm_sim::{Injection, SimOptions};

fn sim_options() -> SimOptions {
    SimOptions {
        certspotter_empty_retry_after: Duration::from_secs(1),
        ..Default::default()
    }
}

/// How a hostile Cert Spotter source answers every request.
#[derive(Clone, Copy)]
enum Hostile {
    /// 429 with a `Retry-After` of about three million years.
    HugeRetryAfterSeconds,
    /// 429 with a `Retry-After` date in year 9999.
    RetryAfterYear9999,
    /// Never answers.
    Silent,
    /// Pages that never end: 100 issuances after any `after`, each with a 10 kB issuer name.
    Endless,
}

/// One page of [`Hostile::Endless`].
fn endless_page(query: Option<&str>) -> Response {
    let after: u64 = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("after="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let issuer = format!("CN=Hostile {}", "z".repeat(10_000));
    let page: Vec<serde_json::Value> = (after + 1..=after + 100)
        .map(|id| {
            json!({"id": id.to_string(), "tbs_sha256": format!("{id:064x}"), "dns_names": ["endless.example"],
                   "pubkey_sha256": format!("{id:064x}"), "issuer": {"name": issuer, "pubkey_sha256": "00"}})
        })
        .collect();
    (StatusCode::OK, axum::Json(page)).into_response()
}

/// A hostile source on 127.0.0.1; counts the requests it got.
struct HostileSource {
    url: String,
    requests: Arc<AtomicUsize>,
}

async fn hostile_source(mode: Hostile) -> HostileSource {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let app = axum::Router::new().fallback(move |query: axum::extract::RawQuery| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let throttled = |retry_after: &'static str| -> Response {
                let mut response =
                    (StatusCode::TOO_MANY_REQUESTS, r#"{"code":"rate_limited"}"#).into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(retry_after));
                response
            };
            match mode {
                Hostile::HugeRetryAfterSeconds => throttled("99999999999999"),
                Hostile::RetryAfterYear9999 => throttled("Fri, 31 Dec 9999 23:59:59 GMT"),
                Hostile::Silent => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    (StatusCode::OK, "[]").into_response()
                }
                Hostile::Endless => {
                    // Slow enough that the commits between pages can be observed.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    endless_page(query.0.as_deref())
                }
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    HostileSource {
        url: format!("http://{addr}"),
        requests,
    }
}

fn ready(w: &CTWatch) -> Option<(String, String, String)> {
    w.status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, "Ready"))
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn unexpected(w: &CTWatch) -> i64 {
    w.status.as_ref().map_or(0, |s| s.unexpected_issuances)
}

fn rogue(names: &[&str]) -> Injection {
    Injection {
        dns_names: names.iter().map(|s| s.to_string()).collect(),
        issuer_name: Some("C=XX, O=Rogue, CN=Rogue CA".into()),
        ..Default::default()
    }
}

/// Item 1: `Retry-After: 99999999999999` and a date in year 9999 neither crash the operator
/// nor park the hostile watch for longer than an hour, and another source's watch keeps
/// detecting.
#[tokio::test]
async fn absurd_retry_after_neither_crashes_nor_silences_other_watches() {
    let env = Env::with_sim("ct-hostile-wait", sim_options()).await;
    let seconds = hostile_source(Hostile::HugeRetryAfterSeconds).await;
    let date = hostile_source(Hostile::RetryAfterYear9999).await;
    let mut op = env.start_operator(&["--ctwatch-interval-cap", "2s"], &[]);
    create_watch(
        &env,
        "hostile-seconds",
        &seconds.url,
        json!({"domains": ["victim.example"]}),
    )
    .await;
    create_watch(
        &env,
        "hostile-date",
        &date.url,
        json!({"domains": ["victim.example"]}),
    )
    .await;
    create_watch(
        &env,
        "healthy",
        env.sim.url(),
        json!({"domains": ["healthy.example"]}),
    )
    .await;

    for name in ["hostile-seconds", "hostile-date"] {
        let w = wait_watch(&env, name, Duration::from_secs(60), "QuotaExceeded", |w| {
            ready(w).is_some_and(|(s, r, _)| s == "False" && r == "QuotaExceeded")
        })
        .await;
        let (_, _, message) = ready(&w).unwrap();
        assert!(
            message.contains("clamped"),
            "the condition says the wait was clamped: {message}"
        );
        let next = w.status.unwrap().next_poll_time.expect("next poll scheduled").0;
        let limit =
            k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_secs(3600 + 60);
        assert!(
            next <= limit,
            "{name}: the next poll is at most an hour away, not {next}"
        );
    }
    assert!(seconds.requests.load(Ordering::SeqCst) >= 1);
    assert!(date.requests.load(Ordering::SeqCst) >= 1);

    wait_watch(&env, "healthy", Duration::from_secs(60), "first poll", |w| {
        w.status.as_ref().is_some_and(|s| s.last_poll_time.is_some())
    })
    .await;
    env.sim.inject_issuance(rogue(&["healthy.example"])).unwrap();
    wait_watch(&env, "healthy", Duration::from_secs(30), "rogue detected", |w| {
        unexpected(w) == 1
    })
    .await;
    assert!(
        op.exited().is_none(),
        "the operator is still running:\n{}",
        op.logs()
    );
    assert!(!op.logs().contains("panicked"), "no task panicked");
    op.terminate();
}

/// Item 2: a source that never answers and a source that throttles for an hour do not delay a
/// healthy watch beyond its interval; the silent source's watch is reported Overdue.
#[tokio::test]
async fn slow_and_throttled_sources_do_not_delay_a_healthy_watch() {
    let env = Env::with_sim("ct-hostile-slow", sim_options()).await;
    let silent = hostile_source(Hostile::Silent).await;
    let throttling = hostile_source(Hostile::HugeRetryAfterSeconds).await;
    let interval = Duration::from_secs(3);
    let mut op = env.start_operator(&["--ctwatch-interval-cap", "3s"], &[]);
    create_watch(&env, "silent", &silent.url, json!({"domains": ["slow.example"]})).await;
    create_watch(
        &env,
        "throttled",
        &throttling.url,
        json!({"domains": ["slow.example"]}),
    )
    .await;
    create_watch(
        &env,
        "healthy",
        env.sim.url(),
        json!({"domains": ["fast.example"]}),
    )
    .await;
    wait_watch(&env, "healthy", Duration::from_secs(60), "first poll", |w| {
        w.status.as_ref().is_some_and(|s| s.last_poll_time.is_some())
    })
    .await;
    wait_watch(&env, "throttled", Duration::from_secs(30), "QuotaExceeded", |w| {
        ready(w).is_some_and(|(_, r, _)| r == "QuotaExceeded")
    })
    .await;
    for round in 1..=3 {
        let injected = Instant::now();
        env.sim.inject_issuance(rogue(&["fast.example"])).unwrap();
        wait_watch(&env, "healthy", Duration::from_secs(60), "rogue detected", |w| {
            unexpected(w) == round
        })
        .await;
        let latency = injected.elapsed();
        println!("round {round}: detection latency {:.2}s", latency.as_secs_f64());
        // The interval, one poller tick, and a little for the poll and the status write.
        assert!(
            latency <= interval + Duration::from_secs(3),
            "round {round}: detection took {latency:?}, more than the interval allows"
        );
    }
    let w = wait_watch(&env, "silent", Duration::from_secs(60), "Overdue", |w| {
        ready(w).is_some_and(|(s, r, _)| s == "False" && r == "Overdue")
    })
    .await;
    let (_, _, message) = ready(&w).unwrap();
    assert!(
        message.contains("since"),
        "the message says since when: {message}"
    );
    assert!(
        silent.requests.load(Ordering::SeqCst) >= 1,
        "the silent source was asked"
    );
    assert!(op.exited().is_none());
    op.terminate();
}

/// Item 3: every rogue certificate gets its own Warning Event, even for the same names.
#[tokio::test]
async fn each_unexpected_issuance_gets_its_own_warning_event() {
    let env = Env::with_sim("ct-hostile-events", sim_options()).await;
    let mut op = env.start_operator(&["--ctwatch-interval-cap", "2s"], &[]);
    create_watch(&env, "same", env.sim.url(), json!({"domains": ["same.example"]})).await;
    wait_watch(&env, "same", Duration::from_secs(60), "first poll", |w| {
        w.status.as_ref().is_some_and(|s| s.last_poll_time.is_some())
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(env.sim.inject_issuance(rogue(&["same.example"])).unwrap());
        // Spread over cycles as well as within one.
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    wait_watch(&env, "same", Duration::from_secs(60), "5 unexpected", |w| {
        unexpected(w) == 5
    })
    .await;
    let warnings = || async {
        env.events_for("same")
            .await
            .into_iter()
            .filter(|e| {
                e.reason.as_deref() == Some("UnexpectedIssuance") && e.type_.as_deref() == Some("Warning")
            })
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while warnings().await.len() < 5 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let events = warnings().await;
    assert_eq!(
        events.len(),
        5,
        "one Warning Event per rogue issuance: {events:#?}"
    );
    for id in &ids {
        assert!(
            events.iter().any(|e| e
                .message
                .as_deref()
                .unwrap_or("")
                .contains(&format!("Cert Spotter id {id},"))),
            "an Event names issuance {id}"
        );
    }
    op.terminate();
}

/// Item 4: a Secret labelled as the operator's does not make its key "managed"; the key of a
/// Certificate the operator issued still is.
#[tokio::test]
async fn a_forged_managed_secret_does_not_make_a_rogue_certificate_expected() {
    let env = Env::with_sim("ct-hostile-forge", sim_options()).await;
    env.issuer_for("tlm", "prof-x509").await;
    let forged_key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    let forged: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "forged-tls", "labels": {
            "app.kubernetes.io/managed-by": "tlm-operator",
            "tlm.certops.dev/certificate-name": "forged"}},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.key": forged_key.pkcs8_pem(), "tls.crt": ""}
    }))
    .unwrap();
    env.secrets()
        .create(&PostParams::default(), &forged)
        .await
        .unwrap();
    let mut op = env.start_operator(&["--ctwatch-interval-cap", "2s"], &[]);
    env.create_certificate(
        "app",
        json!({"secretName": "app-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["app.forge.example"]}),
    )
    .await;
    env.wait_ready("app", 1, Duration::from_secs(60)).await;
    let rogue_id = env
        .sim
        .inject_issuance(Injection {
            pubkey_sha256: Some(forged_key.spki_sha256_hex()),
            ..rogue(&["evil.forge.example"])
        })
        .unwrap();
    create_watch(
        &env,
        "forge",
        env.sim.url(),
        json!({"domains": ["forge.example"], "includeSubdomains": true}),
    )
    .await;
    let w = wait_watch(&env, "forge", Duration::from_secs(60), "both judged", |w| {
        w.status.as_ref().is_some_and(|s| s.issuances_seen >= 2)
    })
    .await;
    let recent = w.status.unwrap().recent;
    let forged_entry = recent
        .iter()
        .find(|r| r.id == rogue_id)
        .expect("the rogue issuance is judged");
    assert_eq!(
        (forged_entry.verdict, forged_entry.reason.as_str()),
        (Verdict::Unexpected, "UnknownKeyAndIssuer"),
        "a forged labelled Secret does not vouch for its key"
    );
    let managed: Vec<_> = recent.iter().filter(|r| r.id != rogue_id).collect();
    assert_eq!(managed.len(), 1, "{recent:?}");
    assert_eq!(
        (managed[0].verdict, managed[0].reason.as_str()),
        (Verdict::Expected, "ManagedKey"),
        "the operator's own certificate is still expected"
    );
    op.terminate();
}

/// Item 5: a source whose pages never end is read in bounded chunks, each committed (the
/// cursor advances cycle after cycle instead of the operator holding everything), and the
/// status stays small however large the source's strings.
#[tokio::test]
async fn an_endless_source_is_committed_page_by_page_within_bounds() {
    let env = Env::with_sim("ct-hostile-endless", sim_options()).await;
    let endless = hostile_source(Hostile::Endless).await;
    // A large query allowance: the test measures the chunking, not the quota.
    let mut op = env.start_operator(
        &[
            "--ctwatch-interval-cap",
            "2s",
            "--certspotter-queries-per-hour",
            "1000000",
        ],
        &[],
    );
    // The hostile issuer is "expected", so the test measures reading, not Event volume.
    create_watch(
        &env,
        "endless",
        &endless.url,
        json!({"domains": ["endless.example"], "expectedIssuers": [{"name": "Hostile"}]}),
    )
    .await;
    let cursor = |w: &CTWatch| {
        w.status
            .as_ref()
            .and_then(|s| s.cursor.as_deref())
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let first = wait_watch(
        &env,
        "endless",
        Duration::from_secs(60),
        "a first chunk committed",
        |w| cursor(w) > 0,
    )
    .await;
    let first_cursor = cursor(&first);
    assert!(
        first_cursor < 800,
        "the cursor is committed page by page (100 issuances), not after the cycle's cap of 8 MiB (about 800 of these): {first_cursor}"
    );
    assert_eq!(first_cursor % 100, 0, "commits fall on page boundaries");
    let later = wait_watch(
        &env,
        "endless",
        Duration::from_secs(60),
        "more chunks committed",
        |w| cursor(w) >= first_cursor + 2000,
    )
    .await;
    let status = later.status.unwrap();
    assert_eq!(status.recent.len(), 50, "recent is bounded by recentLimit");
    assert!(
        status
            .recent
            .iter()
            .all(|r| r.issuer.as_ref().is_some_and(|i| i.chars().count() <= 256)),
        "each recent entry's strings are capped"
    );
    let size = serde_json::to_vec(&status).unwrap().len();
    assert!(size < 100_000, "the status stays small: {size} bytes");
    assert!(conditions::is_true(&status.conditions, "Ready"));
    assert!(op.exited().is_none());
    op.terminate();
}
