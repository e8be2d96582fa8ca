//! The Qualys CertView client against tlm-sim over real HTTP on loopback (no cluster): JWT auth
//! and refresh, enrollment, status progression, cancellation, download, strict refusals and
//! faults; plus a narrow fake gateway for a 401 on a live token and Qualys' 409 rate limit.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData};
use secrecy::SecretString;
use tlm_operator::clients::error::ErrorClass;
use tlm_operator::clients::http::HttpSettings;
use tlm_operator::clients::qualys::{QualysClient, QualysClientConfig};
use tlm_operator::clients::qualys_types::*;
use tlm_operator::clients::retry::RetryPolicy;
use tlm_operator::clients::throttle::ThrottleSettings;
use tlm_operator::pki::{certs_from_pem, verify_chain};
use tlm_sim::{FaultRule, Sim, SimOptions};
use x509_parser::prelude::{FromDer, X509Certificate};

fn client_for(url: &str) -> QualysClient {
    QualysClient::new(QualysClientConfig {
        gateway_url: url.to_string(),
        username: "test-qualys-user".into(),
        password: SecretString::from("test-qualys-password".to_string()),
        http: HttpSettings {
            timeout: Duration::from_secs(10),
            ..Default::default()
        },
        throttle: Some(ThrottleSettings {
            requests_per_second: NonZeroU32::new(1000).unwrap(),
            start_per_second: None,
            burst: NonZeroU32::new(1000).unwrap(),
            max_concurrency: 8,
        }),
        retry: RetryPolicy::default(),
        requests_per_hour: None,
    })
    .unwrap()
}

async fn sim_with(configure: impl FnOnce(&mut SimOptions)) -> Sim {
    let mut options = SimOptions::default();
    configure(&mut options);
    Sim::start(options).await.unwrap()
}

fn profile() -> EnrollmentProfile {
    EnrollmentProfile {
        approver_user_names: vec!["doe_john".into()],
        requester_user_name: None,
        intermediate_ca: IntermediateCa {
            common_name: Some("tlm-sim Issuing CA".into()),
            ..Default::default()
        },
        organization_id: 525858,
        product_name_id: "ssl_plus".into(),
        ev_approver_user_ids: vec![],
        signature_hash: SignatureHash::Sha256,
        validity: Validity::Days(30),
        organization_units: vec![],
    }
}

fn order_for(names: &[&str]) -> (KeyPair, CertificateOrder) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let csr_pem = params.serialize_request(&key).unwrap().pem().unwrap();
    let order = CertificateOrder {
        csr_pem,
        common_name: names[0].into(),
        dns_names: names.iter().map(|n| n.to_string()).collect(),
        renewal: None,
    };
    (key, order)
}

#[tokio::test]
async fn enroll_view_and_download_a_verified_chain() {
    let sim = sim_with(|_| {}).await;
    let client = client_for(sim.url());
    let (key, order) = order_for(&["app.example.com", "www.app.example.com"]);
    let created = client.enroll(&profile(), &order).await.unwrap();
    assert_eq!(created.outcome(), Outcome::Issued);
    let viewed = client.view(&created.uuid).await.unwrap();
    assert_eq!(
        (viewed.status.as_deref(), viewed.ca_status.as_deref()),
        (Some("ISSUED"), Some("issued"))
    );
    let chain = client.download_chain(&created.uuid).await.unwrap();
    assert_eq!(chain.len(), 3);
    let certs = certs_from_pem(&chain.concat()).unwrap();
    verify_chain(&certs).unwrap();
    let (_, leaf) = X509Certificate::from_der(certs[0].as_ref()).unwrap();
    assert_eq!(leaf.public_key().raw, key.subject_public_key_info().as_slice());
    assert_eq!(
        sim.counters().requests["qualys_auth"],
        1,
        "one token for every call"
    );
}

#[tokio::test]
async fn pending_approval_then_the_ca_then_issued() {
    let sim = sim_with(|o| {
        o.qualys.manual_approval = true;
        o.qualys.manual_issuance = true;
    })
    .await;
    let client = client_for(sim.url());
    let (_, order) = order_for(&["wait.example.com"]);
    let uuid = client.enroll(&profile(), &order).await.unwrap().uuid;
    assert_eq!(
        client.view(&uuid).await.unwrap().outcome(),
        Outcome::Pending(Pending::Approval)
    );
    let early = client.download_chain(&uuid).await.unwrap_err();
    assert_eq!(early.class(), ErrorClass::InvalidInput);
    sim.qualys_act(&uuid, "approve").unwrap();
    assert_eq!(
        client.view(&uuid).await.unwrap().outcome(),
        Outcome::Pending(Pending::Ca("pending".into()))
    );
    sim.qualys_act(&uuid, "issue").unwrap();
    assert_eq!(client.view(&uuid).await.unwrap().outcome(), Outcome::Issued);
    assert_eq!(client.download_chain(&uuid).await.unwrap().len(), 3);

    let (_, order) = order_for(&["refused.example.com"]);
    let refused = client.enroll(&profile(), &order).await.unwrap().uuid;
    sim.qualys_act(&refused, "approve").unwrap();
    sim.qualys_act(&refused, "reject").unwrap();
    assert!(matches!(
        client.view(&refused).await.unwrap().outcome(),
        Outcome::Failed(_)
    ));
}

#[tokio::test]
async fn cancel_withdraws_a_submitted_request_once() {
    let sim = sim_with(|o| o.qualys.manual_approval = true).await;
    let client = client_for(sim.url());
    let (_, order) = order_for(&["gone.example.com"]);
    let uuid = client.enroll(&profile(), &order).await.unwrap().uuid;
    client.cancel(&uuid, "Certificate deleted").await.unwrap();
    assert_eq!(client.view(&uuid).await.unwrap().outcome(), Outcome::Cancelled);
    let again = client.cancel(&uuid, "again").await.unwrap_err();
    assert_eq!(again.class(), ErrorClass::InvalidInput);
    assert_eq!(
        client.view("no-such-uuid").await.unwrap_err().class(),
        ErrorClass::NotFound
    );
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let sim = sim_with(|o| o.qualys.token_lifetime = Duration::from_secs(2)).await;
    let client = client_for(sim.url());
    let (_, order) = order_for(&["short.example.com"]);
    let uuid = client.enroll(&profile(), &order).await.unwrap().uuid;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        client.view(&uuid).await.unwrap();
    }
    let counters = sim.counters();
    assert!(counters.requests["qualys_auth"] >= 2, "{:?}", counters.requests);
    let unauthorized: u64 = counters
        .responses
        .iter()
        .filter(|(k, _)| k.ends_with(":401"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(unauthorized, 0, "refreshed in time: {:?}", counters.responses);
}

#[tokio::test]
async fn strict_refusals_and_bad_credentials_are_typed() {
    let sim = sim_with(|_| {}).await;
    let client = client_for(sim.url());
    let (_, mut order) = order_for(&["a.example.com"]);
    order.dns_names.push("not-in-the-csr.example.com".into());
    let refused = client.enroll(&profile(), &order).await.unwrap_err();
    assert_eq!(
        (refused.class(), refused.code()),
        (ErrorClass::InvalidInput, Some("1905"))
    );
    let mut two_cas = profile();
    two_cas.intermediate_ca.common_name = Some("Some Other CA".into());
    let (_, order) = order_for(&["b.example.com"]);
    assert_eq!(
        client.enroll(&two_cas, &order).await.unwrap_err().code(),
        Some("140004")
    );

    let wrong = QualysClient::new(QualysClientConfig {
        gateway_url: sim.url().to_string(),
        username: "test-qualys-user".into(),
        password: SecretString::from("wrong".to_string()),
        http: HttpSettings::default(),
        throttle: None,
        retry: RetryPolicy::none(),
        requests_per_hour: None,
    })
    .unwrap();
    let denied = wrong.view("x").await.unwrap_err();
    assert_eq!(denied.class(), ErrorClass::Auth);
    assert!(
        !format!("{denied} {denied:?}").contains("wrong"),
        "no password in errors"
    );
}

#[tokio::test]
async fn faults_are_retried_and_retry_after_is_honoured() {
    let sim = sim_with(|_| {}).await;
    let client = client_for(sim.url());
    let (_, order) = order_for(&["flaky.example.com"]);
    sim.set_faults(vec![
        FaultRule {
            endpoint: "qualys_auth".into(),
            error_rate: 1.0,
            error_statuses: vec![503],
            count: Some(1),
            ..FaultRule::default()
        },
        FaultRule {
            endpoint: "qualys_view".into(),
            throttle_rate: 1.0,
            retry_after_seconds: 1,
            count: Some(1),
            ..FaultRule::default()
        },
    ])
    .unwrap();
    let uuid = client.enroll(&profile(), &order).await.unwrap().uuid;
    let started = Instant::now();
    assert_eq!(client.view(&uuid).await.unwrap().outcome(), Outcome::Issued);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
    let counters = sim.counters();
    assert_eq!(counters.requests["qualys_auth"], 2);
    assert_eq!(counters.early_requests, 0);
}

/// A gateway that rejects the first token it issued (as after a Qualys-side revocation) and
/// blocks one view with Qualys' 409 + `X-RateLimit-ToWait-Sec`.
#[tokio::test]
async fn a_401_on_a_live_token_refreshes_it_once_and_409_waits_are_honoured() {
    let auths = Arc::new(AtomicUsize::new(0));
    let views = Arc::new(AtomicUsize::new(0));
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let (a, v) = (auths.clone(), views.clone());
    let app = Router::new()
        .route(
            "/auth",
            post(move || {
                let n = a.fetch_add(1, Ordering::SeqCst) + 1;
                let claims = format!(r#"{{"exp":{exp},"n":{n}}}"#);
                use base64::Engine;
                let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
                async move {
                    (
                        StatusCode::CREATED,
                        format!("eyJhbGciOiJIUzUxMiJ9.{claims}.c2ln{n}"),
                    )
                }
            }),
        )
        .route(
            "/certview/rest/public/v1/certificates/enrollment/digicert/orders/{uuid}",
            get(move |headers: HeaderMap| {
                let first_token = headers["authorization"].to_str().unwrap().ends_with("c2ln1");
                let n = v.fetch_add(1, Ordering::SeqCst);
                async move {
                    if first_token {
                        return (StatusCode::UNAUTHORIZED, HeaderMap::new(), "{}").into_response();
                    }
                    if n == 1 {
                        let mut h = HeaderMap::new();
                        h.insert("x-ratelimit-towait-sec", "1".parse().unwrap());
                        return (StatusCode::CONFLICT, h, "{}").into_response();
                    }
                    (
                        StatusCode::OK,
                        HeaderMap::new(),
                        r#"{"uuid":"u1","status":"SUBMITTED","caStatus":""}"#,
                    )
                        .into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = client_for(&url);
    let started = Instant::now();
    let view = client.view("u1").await.unwrap();
    assert_eq!(view.outcome(), Outcome::Pending(Pending::Approval));
    assert_eq!(auths.load(Ordering::SeqCst), 2, "one refresh after the 401");
    assert_eq!(views.load(Ordering::SeqCst), 3, "401, 409, then the answer");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited X-RateLimit-ToWait-Sec"
    );
}
