//! The TLM client against tlm-sim over real HTTP on loopback (no cluster): every endpoint, both
//! delivery formats, approval, every error code, every fault kind, Retry-After and rate limits.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::json;
use tlm_operator::api::KeyAlgorithm;
use tlm_operator::clients::error::{ErrorClass, ServiceError};
use tlm_operator::clients::http::HttpSettings;
use tlm_operator::clients::retry::RetryPolicy;
use tlm_operator::clients::throttle::ThrottleSettings;
use tlm_operator::clients::tlm::{TlmClient, TlmClientConfig};
use tlm_operator::clients::tlm_types::*;
use tlm_operator::clients::{NoObserver, RequestObserver};
use tlm_operator::pki::{
    CsrRequest, LeafInfo, PrivateKey, build_csr_pem, certs_from_delivery, certs_from_pem, order_chain,
    verify_chain,
};
use tlm_sim::{FaultRule, Sim, SimOptions};

fn client_with(
    sim: &Sim,
    key: &str,
    throttle: ThrottleSettings,
    retry: RetryPolicy,
    timeout: Duration,
) -> TlmClient {
    let observer: Arc<dyn RequestObserver> = Arc::new(NoObserver);
    TlmClient::with_observer(
        TlmClientConfig {
            base_url: sim.url().to_string(),
            api_key: SecretString::from(key.to_string()),
            http: HttpSettings {
                timeout,
                ..Default::default()
            },
            throttle,
            retry,
        },
        observer,
    )
    .unwrap()
}

fn client(sim: &Sim) -> TlmClient {
    let throttle = ThrottleSettings {
        requests_per_second: NonZeroU32::new(1000).unwrap(),
        start_per_second: None,
        burst: NonZeroU32::new(1000).unwrap(),
        max_concurrency: 16,
    };
    client_with(
        sim,
        "test-api-key",
        throttle,
        RetryPolicy::default(),
        Duration::from_secs(10),
    )
}

fn request(profile: &str, csr: String, names: &[&str]) -> SubmitRequest {
    SubmitRequest {
        profile: IdRef { id: profile.into() },
        seat: SeatRef {
            seat_id: "ops@example.com".into(),
        },
        csr,
        validity: Some(ValidityWire {
            unit: "days".into(),
            duration: 20,
        }),
        delivery_format: "x509".into(),
        include_ca_chain: true,
        attributes: Attributes {
            subject: SubjectAttributes {
                common_name: Some(names[0].into()),
                ..Default::default()
            },
            extensions: Some(Extensions {
                san: SanAttributes {
                    dns_names: names.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                },
            }),
        },
    }
}

fn csr_for(key: &PrivateKey, names: &[&str]) -> String {
    let request = CsrRequest {
        common_name: Some(names[0].into()),
        dns_names: names.iter().map(|s| s.to_string()).collect(),
        subject: Default::default(),
        ..Default::default()
    };
    build_csr_pem(&request, key).unwrap()
}

fn fault(rule: serde_json::Value) -> Vec<FaultRule> {
    vec![serde_json::from_value(rule).unwrap()]
}

/// Issues for `key` and returns the verified leaf-first chain.
async fn issue(
    client: &TlmClient,
    sim: &Sim,
    profile: &str,
    key: &PrivateKey,
) -> (IssueResponse, Vec<Vec<u8>>) {
    let names = ["contract.example.com", "www.contract.example.com"];
    let response = client
        .submit(&request(profile, csr_for(key, &names), &names))
        .await
        .unwrap();
    let serial = response.serial_number.clone().unwrap();
    let formats = client.additional_formats(&serial).await.unwrap();
    assert_eq!(formats.x509_cert_chain.len(), 3, "leaf, intermediate, root");
    let certs: Vec<Vec<u8>> = formats
        .x509_cert_chain
        .iter()
        .flat_map(|e| certs_from_pem(&e.cert_blob).unwrap())
        .collect();
    let ordered = order_chain(&certs, Some(&key.spki_der())).unwrap();
    assert_eq!(ordered, certs, "additional-formats is ordered leaf -> root");
    verify_chain(&ordered).unwrap();
    assert_eq!(
        certs_from_pem(sim.root_ca_pem()).unwrap()[0],
        ordered[2],
        "the chain ends at the simulator's root"
    );
    let leaf = LeafInfo::parse(&ordered[0]).unwrap();
    assert_eq!(leaf.spki_der, key.spki_der(), "the leaf carries the CSR's key");
    assert_eq!(leaf.dns_names, names);
    let p7 = certs_from_delivery(formats.pkcs7.as_deref().unwrap()).unwrap();
    assert_eq!(p7.len(), 3, "the PKCS#7 holds the same three certificates");
    (response, ordered)
}

#[tokio::test]
async fn every_key_type_is_issued_with_a_verifying_chain() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = client(&sim);
    for (alg, size) in [
        (KeyAlgorithm::RSA, Some(2048)),
        (KeyAlgorithm::RSA, Some(3072)),
        (KeyAlgorithm::RSA, Some(4096)),
        (KeyAlgorithm::ECDSA, Some(256)),
        (KeyAlgorithm::ECDSA, Some(384)),
        (KeyAlgorithm::Ed25519, None),
    ] {
        let key = PrivateKey::generate(alg, size).unwrap();
        let (response, chain) = issue(&client, &sim, "prof-x509", &key).await;
        let delivered = certs_from_delivery(response.certificate.as_deref().unwrap()).unwrap();
        assert_eq!(
            delivered[0], chain[0],
            "{alg:?} {size:?}: submit delivers the leaf as PEM x509"
        );
    }
}

#[tokio::test]
async fn pkcs7_delivery_status_search_renew_and_revoke() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = client(&sim);
    let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    let (response, chain) = issue(&client, &sim, "prof-pkcs7", &key).await;
    assert!(
        response
            .delivery_format
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case("pkcs7"))
    );
    let text = response.certificate.unwrap();
    assert!(text.contains("-----BEGIN PKCS7-----"));
    let delivered = certs_from_delivery(&text).unwrap();
    assert_eq!(order_chain(&delivered, Some(&key.spki_der())).unwrap(), chain);

    let serial = response.serial_number.unwrap();
    let record = client.status(&serial).await.unwrap();
    assert_eq!(record.state(), CertificateState::Issued);
    assert_eq!(record.serial_number.as_deref(), Some(serial.as_str()));
    let read = record.certificate.as_deref().expect("the certificate by serial");
    assert!(
        !read.contains("-----BEGIN"),
        "base64 DER without armour, as the spec shows"
    );
    assert_eq!(certs_from_delivery(read).unwrap()[0], chain[0]);
    assert_eq!(record.common_name.as_deref(), Some("contract.example.com"));
    assert!(record.valid_from.is_some() && record.valid_to.is_some() && record.thumbprint.is_some());

    let found = client
        .search(&SearchQuery {
            common_name: Some("contract.example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        found
            .items
            .iter()
            .any(|r| r.serial_number.as_deref() == Some(serial.as_str()))
    );
    let by_serial = client
        .search(&SearchQuery {
            serial_number: Some(serial.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_serial.items.len(), 1);
    let none = client
        .search(&SearchQuery {
            common_name: Some("nobody.example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.items.is_empty());

    let new_key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    let names = ["contract.example.com", "www.contract.example.com"];
    let renewed = client
        .renew(
            &serial,
            None,
            &RenewRequest {
                csr: csr_for(&new_key, &names),
                validity: None,
                delivery_format: "x509".into(),
                include_ca_chain: true,
            },
        )
        .await
        .unwrap();
    let renewed_serial = renewed.serial_number.unwrap();
    assert_ne!(renewed_serial, serial);
    // PKCS#7 keeps certificates in a SET: find the leaf by our key.
    let delivered = certs_from_delivery(renewed.certificate.as_deref().unwrap()).unwrap();
    let chain = order_chain(&delivered, Some(&new_key.spki_der())).expect("the renewal is for the new key");
    verify_chain(&chain).unwrap();

    client
        .revoke(&serial, None, RevocationReason::CessationOfOperation)
        .await
        .unwrap();
    assert_eq!(
        client.status(&serial).await.unwrap().state(),
        CertificateState::Revoked
    );
    let again = client
        .revoke(&serial, None, RevocationReason::CessationOfOperation)
        .await
        .unwrap_err();
    assert_eq!(again.class(), ErrorClass::InvalidInput, "{again}");
    let orders = sim.counters().orders_by_public_key;
    assert_eq!(orders.get(&key.spki_sha256_hex()), Some(&1));
    assert_eq!(
        orders.get(&new_key.spki_sha256_hex()),
        Some(&1),
        "a renewal counts as an order for its key"
    );
}

#[tokio::test]
async fn profiles_are_paged_until_exhausted() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = client(&sim);
    let all = client.list_profiles().await.unwrap();
    sim.reset_counters();
    let paged = client.list_profiles_paged(3).await.unwrap();
    assert_eq!(paged, all);
    let pages = sim.counters().requests.get("profiles").copied().unwrap_or(0);
    assert_eq!(pages as usize, all.len() / 3 + 1, "pages of 3 until a short page");
    let x509 = all.iter().find(|p| p.id == "prof-x509").unwrap();
    assert!(x509.is_active() && x509.is_rest_api());
    assert!(!all.iter().find(|p| p.id == "prof-disabled").unwrap().is_active());
    assert!(!all.iter().find(|p| p.id == "prof-scep").unwrap().is_rest_api());
    assert!(
        all.iter()
            .find(|p| p.id == "prof-pkcs7")
            .unwrap()
            .delivery_format()
            .is_some_and(|f| f.eq_ignore_ascii_case("pkcs7"))
    );
    // One profile by id, as DigiCert's clients read it; an unknown id is refused with 403.
    sim.reset_counters();
    let one = client.profile("prof-pending").await.unwrap();
    assert!(
        one.may_need_approval(),
        "manual approval: {:?}",
        one.authentication_method
    );
    assert!(!client.profile("prof-x509").await.unwrap().may_need_approval());
    assert!(
        !client
            .profile("prof-short")
            .await
            .unwrap()
            .allows_validity_override()
    );
    assert_eq!(sim.counters().requests.get("profiles"), None, "no list needed");
    let unknown = client.profile("prof-unknown").await.unwrap_err();
    assert_eq!(unknown.status(), Some(403), "{unknown}");
    assert!(unknown.is_access_denied());
}

#[tokio::test]
async fn approval_requests_are_picked_up_until_issued_or_rejected() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = client(&sim);
    let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    let names = ["pending.example.com"];
    let response = client
        .submit(&request("prof-pending", csr_for(&key, &names), &names))
        .await
        .unwrap();
    let Ok(IssueOutcome::Pending { request_id }) = response.outcome() else {
        panic!("an approval profile answers with a request id: {response:?}");
    };
    assert_eq!(response.serial_number, None, "no serial before approval");
    let again = client.pickup(&request_id, "prof-pending").await.unwrap();
    assert_eq!(
        again.outcome(),
        Ok(IssueOutcome::Pending {
            request_id: request_id.clone()
        })
    );
    assert_eq!(again.status.as_deref(), Some("PENDING"));
    sim.approve(&request_id).unwrap();
    let issued = client.pickup(&request_id, "prof-pending").await.unwrap();
    let Ok(IssueOutcome::Issued { serial, certificate }) = issued.outcome() else {
        panic!("approved: {issued:?}");
    };
    assert_eq!(issued.status.as_deref(), Some("ISSUED"));
    let leaf = LeafInfo::parse(&certs_from_delivery(&certificate).unwrap()[0]).unwrap();
    assert_eq!(leaf.spki_der, key.spki_der());
    assert_eq!(
        client.status(&serial).await.unwrap().state(),
        CertificateState::Issued
    );

    let response = client
        .submit(&request("prof-pickup", csr_for(&key, &names), &names))
        .await
        .unwrap();
    let Ok(IssueOutcome::Pending { request_id }) = response.outcome() else {
        panic!("{response:?}");
    };
    let first = client.pickup(&request_id, "prof-pickup").await.unwrap();
    assert!(
        matches!(first.outcome(), Ok(IssueOutcome::Pending { .. })),
        "the first pickup is still pending"
    );
    let second = client.pickup(&request_id, "prof-pickup").await.unwrap();
    assert!(
        matches!(second.outcome(), Ok(IssueOutcome::Issued { .. })),
        "{second:?}"
    );

    let rejected = client
        .submit(&request("prof-pending", csr_for(&key, &names), &names))
        .await
        .unwrap();
    let Ok(IssueOutcome::Pending { request_id }) = rejected.outcome() else {
        panic!("{rejected:?}");
    };
    sim.reject(&request_id).unwrap();
    let answer = client.pickup(&request_id, "prof-pending").await.unwrap();
    assert_eq!(answer.outcome(), Ok(IssueOutcome::Rejected));
    let unknown = client.pickup("req-unknown", "prof-pending").await.unwrap_err();
    assert_eq!(unknown.class(), ErrorClass::NotFound, "{unknown}");
}

#[tokio::test]
async fn search_is_paged_to_the_end_and_carries_certificates() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = client(&sim);
    let names = ["paged.example.com"];
    let mut serials = Vec::new();
    for _ in 0..130 {
        let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
        let response = client
            .submit(&request("prof-x509", csr_for(&key, &names), &names))
            .await
            .unwrap();
        serials.push(response.serial_number.unwrap());
    }
    let newest = serials.last().unwrap().clone();
    let first_page = client
        .search(&SearchQuery {
            common_name: Some(names[0].into()),
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first_page.total, Some(130));
    assert_eq!(first_page.items.len(), 100);
    sim.reset_counters();
    let all = client
        .search_all(&SearchQuery {
            common_name: Some(names[0].into()),
            status: Some("ISSUED".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!all.truncated);
    assert_eq!(
        sim.counters().requests.get("search"),
        Some(&2),
        "two pages of 100"
    );
    let mut found: Vec<String> = all.items.iter().filter_map(|i| i.serial_number.clone()).collect();
    found.sort();
    let mut expected = serials.clone();
    expected.sort();
    assert_eq!(found, expected, "every match, each once");
    let item = all
        .items
        .iter()
        .find(|i| i.serial_number.as_deref() == Some(newest.as_str()))
        .unwrap();
    assert!(item.certificate.is_some(), "search items carry the certificate");
}

#[tokio::test]
async fn a_shared_serial_is_renewed_and_revoked_by_thumbprint() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = client(&sim);
    let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    let names = ["collide.example.com"];
    let mut submit = request("prof-collide", csr_for(&key, &names), &names);
    // Inside the 30-day renewal period from the start.
    submit.validity = Some(ValidityWire {
        unit: "days".into(),
        duration: 10,
    });
    let response = client.submit(&submit).await.unwrap();
    let serial = response.serial_number.clone().unwrap();
    let der = certs_from_delivery(response.certificate.as_deref().unwrap())
        .unwrap()
        .remove(0);
    let thumbprint = LeafInfo::parse(&der).unwrap().thumbprint_sha256;
    let renew = RenewRequest {
        csr: csr_for(&PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap(), &names),
        validity: None,
        delivery_format: "x509".into(),
        include_ca_chain: true,
    };
    let refused = client.renew(&serial, None, &renew).await.unwrap_err();
    assert!(refused.is_serial_collision(), "{refused}");
    client.renew(&serial, Some(&thumbprint), &renew).await.unwrap();
    let refused = client
        .revoke(&serial, None, RevocationReason::CessationOfOperation)
        .await
        .unwrap_err();
    assert!(refused.is_serial_collision(), "{refused}");
    client
        .revoke(&serial, Some(&thumbprint), RevocationReason::CessationOfOperation)
        .await
        .unwrap();
    let states: Vec<String> = client
        .search_all(&SearchQuery {
            serial_number: Some(serial.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.status.unwrap_or_default())
        .collect();
    let mut states = states;
    states.sort();
    assert_eq!(states, ["issued", "revoked"], "only ours is revoked");
}

#[tokio::test]
async fn every_error_code_is_typed_and_classified() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let good = client(&sim);
    let throttle = ThrottleSettings::default();
    let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    let names = ["errors.example.com"];
    let csr = csr_for(&key, &names);
    let expect = |e: ServiceError, status: u16, code: &str, class: ErrorClass| {
        assert_eq!(e.status(), Some(status), "{e}");
        assert_eq!(
            e.code().map(str::to_ascii_lowercase),
            Some(code.to_ascii_lowercase()),
            "{e}"
        );
        assert_eq!(e.class(), class, "{e}");
    };
    let wrong = client_with(
        &sim,
        "wrong-key",
        throttle,
        RetryPolicy::none(),
        Duration::from_secs(5),
    );
    expect(
        wrong.list_profiles().await.unwrap_err(),
        401,
        "invalid_api_key",
        ErrorClass::Auth,
    );
    let limited = client_with(
        &sim,
        "limited-api-key",
        throttle,
        RetryPolicy::none(),
        Duration::from_secs(5),
    );
    expect(
        limited
            .submit(&request("prof-pending", csr.clone(), &names))
            .await
            .unwrap_err(),
        403,
        "access_denied",
        ErrorClass::Auth,
    );
    assert!(
        limited
            .submit(&request("prof-x509", csr.clone(), &names))
            .await
            .is_ok(),
        "the limited key may use its profile"
    );
    for (profile, csr_text) in [
        ("prof-unknown", csr.clone()),
        ("prof-disabled", csr.clone()),
        ("prof-scep", csr.clone()),
        (
            "prof-x509",
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----".to_string(),
        ),
    ] {
        expect(
            good.submit(&request(profile, csr_text, &names))
                .await
                .unwrap_err(),
            400,
            "invalid_input_field",
            ErrorClass::InvalidInput,
        );
    }
    let mut no_names = request("prof-cn-required", csr_for(&key, &names), &names);
    no_names.attributes = Attributes::default();
    let unnamed_key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    no_names.csr = build_csr_pem(&CsrRequest::default(), &unnamed_key).unwrap();
    expect(
        good.submit(&no_names).await.unwrap_err(),
        400,
        "invalid_input_field",
        ErrorClass::InvalidInput,
    );
    let missing = good
        .status("0123456789ABCDEF0123456789ABCDEF01234567")
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));
    assert_eq!(missing.class(), ErrorClass::NotFound);
    // A body that is not JSON at all.
    let raw = reqwest::Client::new()
        .post(format!("{}/mpki/api/v1/certificate", sim.url()))
        .header("x-api-key", "test-api-key")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let missing_key = reqwest::Client::new()
        .get(format!("{}/mpki/api/v2/profile", sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_key.status().as_u16(), 401);
    let body: serde_json::Value = missing_key.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "invalid_api_key");
}

#[tokio::test]
async fn faults_become_typed_errors_or_are_retried() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let throttle = ThrottleSettings::default();
    let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    let names = ["faults.example.com"];
    let serial = client(&sim)
        .submit(&request("prof-x509", csr_for(&key, &names), &names))
        .await
        .unwrap()
        .serial_number
        .unwrap();
    let once = client_with(
        &sim,
        "test-api-key",
        throttle,
        RetryPolicy::none(),
        Duration::from_secs(2),
    );
    let retrying = client_with(
        &sim,
        "test-api-key",
        throttle,
        RetryPolicy {
            max_retries: 4,
            min_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            ..RetryPolicy::default()
        },
        Duration::from_secs(2),
    );
    for (rule, class) in [
        (
            json!({"endpoint": "status", "error_rate": 1.0, "error_statuses": [503], "count": 1}),
            ErrorClass::Transient,
        ),
        (
            json!({"endpoint": "status", "truncate_rate": 1.0, "count": 1}),
            ErrorClass::UnexpectedBody,
        ),
        (
            json!({"endpoint": "status", "malformed_rate": 1.0, "count": 1}),
            ErrorClass::UnexpectedBody,
        ),
        (
            json!({"endpoint": "status", "drop_rate": 1.0, "count": 1}),
            ErrorClass::Transient,
        ),
        (
            json!({"endpoint": "status", "latency_ms": 3000, "count": 1}),
            ErrorClass::Transient,
        ),
    ] {
        sim.set_faults(fault(rule.clone())).unwrap();
        let err = once.status(&serial).await.unwrap_err();
        assert_eq!(err.class(), class, "{rule}: {err}");
        sim.set_faults(fault(rule.clone())).unwrap();
        let ok = retrying.status(&serial).await;
        assert!(ok.is_ok(), "{rule}: retried to success: {ok:?}");
        if rule.get("latency_ms").is_some() {
            // The slow request may still be finishing in the simulator.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    sim.clear_faults();
    // A 503 on submit is not retried: the order may have gone through.
    sim.set_faults(fault(
        json!({"endpoint": "submit", "error_rate": 1.0, "error_statuses": [503], "count": 1}),
    ))
    .unwrap();
    let before = sim.counters().requests.get("submit").copied().unwrap_or(0);
    assert!(
        retrying
            .submit(&request("prof-x509", csr_for(&key, &names), &names))
            .await
            .is_err()
    );
    assert_eq!(
        sim.counters().requests.get("submit").copied().unwrap_or(0),
        before + 1,
        "submit is sent once"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let client = client(&sim);
    for (date, wait) in [(false, 2u64), (true, 3u64)] {
        sim.reset_counters();
        sim.set_faults(fault(json!({"endpoint": "profiles", "throttle_rate": 1.0, "retry_after_seconds": wait, "retry_after_http_date": date, "count": 1}))).unwrap();
        let started = Instant::now();
        client.list_profiles().await.unwrap();
        let log = sim.counters().log;
        let throttled = log.iter().find(|e| e.status == 429).expect("a 429").at_ms;
        let next = log
            .iter()
            .find(|e| e.at_ms >= throttled && e.status == 200)
            .expect("a later success")
            .at_ms;
        // An HTTP date has one-second resolution: the wait can be up to a second shorter.
        let min_gap = if date { (wait - 1) * 1000 } else { wait * 1000 };
        assert!(
            next - throttled >= min_gap,
            "retried {}ms after a Retry-After of {wait}s (date: {date})",
            next - throttled
        );
        assert!(started.elapsed() >= Duration::from_millis(min_gap));
        assert_eq!(sim.counters().early_requests, 0);
    }
}

#[tokio::test]
async fn the_rate_limit_spaces_requests() {
    let sim = Sim::start(SimOptions::default()).await.unwrap();
    let throttle = ThrottleSettings {
        requests_per_second: NonZeroU32::new(5).unwrap(),
        start_per_second: None,
        burst: NonZeroU32::new(1).unwrap(),
        max_concurrency: 4,
    };
    let client = client_with(
        &sim,
        "test-api-key",
        throttle,
        RetryPolicy::none(),
        Duration::from_secs(5),
    );
    let calls: Vec<_> = (0..10).map(|_| client.list_profiles()).collect();
    futures::future::join_all(calls)
        .await
        .into_iter()
        .for_each(|r| assert!(r.is_ok()));
    let mut times: Vec<u64> = sim
        .counters()
        .log
        .iter()
        .filter(|e| e.endpoint == "profiles")
        .map(|e| e.at_ms)
        .collect();
    times.sort();
    assert_eq!(times.len(), 10);
    // 5 per second with no burst: ten requests span at least 1.8s (a lower bound: a slow
    // machine only makes it longer).
    assert!(
        times[9] - times[0] >= 1700,
        "10 requests in {}ms",
        times[9] - times[0]
    );
}

#[tokio::test]
async fn tls_is_verified_against_the_configured_ca_bundle_only() {
    let sim = Sim::start(SimOptions {
        tls: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(sim.url().starts_with("https://"));
    let ca = sim.tls_ca_pem().unwrap().to_string();
    let build = |bundle: Option<String>| {
        TlmClient::new(TlmClientConfig {
            base_url: sim.url().to_string(),
            api_key: SecretString::from("test-api-key"),
            http: HttpSettings {
                ca_bundle: bundle,
                ..Default::default()
            },
            throttle: ThrottleSettings::default(),
            retry: RetryPolicy::none(),
        })
        .unwrap()
    };
    assert!(
        build(Some(ca)).list_profiles().await.is_ok(),
        "trusted through caBundle"
    );
    let untrusted = build(None).list_profiles().await.unwrap_err();
    assert!(
        matches!(untrusted, ServiceError::Connect { .. }),
        "the system roots do not trust it: {untrusted}"
    );
    let wrong = build(Some(sim.root_ca_pem().to_string()))
        .list_profiles()
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, ServiceError::Connect { .. }),
        "another CA does not verify it: {wrong}"
    );
}

#[tokio::test]
async fn a_profile_list_that_never_ends_is_cut_at_a_byte_budget() {
    // Every page is full and 3 MiB (under the per-body cap): 200 of them would be 600 MiB.
    let pages = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = pages.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let filler = "x".repeat(60 * 1024);
            let page: Vec<serde_json::Value> = (0..50)
                .map(|i| json!({"id": format!("p{i}"), "name": filler}))
                .collect();
            axum::Json(page)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = TlmClient::new(TlmClientConfig {
        base_url: format!("http://{addr}"),
        api_key: SecretString::from("test-api-key"),
        http: HttpSettings::default(),
        throttle: ThrottleSettings::default(),
        retry: RetryPolicy::none(),
    })
    .unwrap();
    let err = client.list_profiles().await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::UnexpectedBody, "{err}");
    assert!(err.to_string().contains("bytes"), "{err}");
    let read = pages.load(std::sync::atomic::Ordering::SeqCst);
    assert!((5..=7).contains(&read), "{read} pages read before stopping");
}
