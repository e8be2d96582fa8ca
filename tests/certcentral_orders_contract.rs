//! The CertCentral orders client against tlm-sim over real HTTP on loopback (no cluster): order
//! and chain, notes and crash recovery by note or CSR, pending validation, reissue, revoke,
//! the per-key rate limit without `Retry-After`, and a throttle fault with one.

use std::time::{Duration, Instant};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData};
use secrecy::SecretString;
use tlm_operator::clients::certcentral_order_recovery::OrderMarker;
use tlm_operator::clients::certcentral_order_types::*;
use tlm_operator::clients::certcentral_orders::{CertCentralOrdersClient, CertCentralOrdersConfig};
use tlm_operator::clients::http::HttpSettings;
use tlm_operator::clients::retry::RetryPolicy;
use tlm_sim::{FaultRule, Sim, SimOptions};
use x509_parser::prelude::{FromDer, X509Certificate};

async fn sim(configure: impl FnOnce(&mut SimOptions)) -> Sim {
    let mut options = SimOptions::default();
    configure(&mut options);
    Sim::start(options).await.expect("sim starts")
}

fn client(sim: &Sim) -> CertCentralOrdersClient {
    CertCentralOrdersClient::new(CertCentralOrdersConfig {
        base_url: sim.url().to_string(),
        api_key: SecretString::from("test-devkey"),
        http: HttpSettings::default(),
        retry: RetryPolicy::default(),
        throttle: None,
    })
    .expect("client")
}

fn csr(key: &KeyPair, names: &[&str]) -> String {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.serialize_request(key).expect("csr").pem().expect("pem")
}

fn new_order(csr: String, cn: &str, skip_approval: bool) -> NewOrder {
    NewOrder {
        csr,
        common_name: cn.into(),
        dns_names: Vec::new(),
        organization_id: Some(112233),
        container_id: None,
        validity: OrderValidity::Years(1),
        cert_validity_days: Some(90),
        comments: Some("tlm-operator test".into()),
        skip_approval,
    }
}

fn leaf_spki(pem: &str) -> Vec<u8> {
    let block = pem::parse(pem).expect("pem");
    let (_, cert) = X509Certificate::from_der(block.contents()).expect("certificate");
    cert.public_key().raw.to_vec()
}

fn marker(uid: &str) -> OrderMarker {
    OrderMarker {
        cluster: "test".into(),
        namespace: "web".into(),
        name: "site".into(),
        uid: uid.into(),
    }
}

#[tokio::test]
async fn orders_are_issued_noted_downloaded_reissued_and_revoked() {
    let sim = sim(|_| {}).await;
    let client = client(&sim);
    let key = KeyPair::generate().expect("key");
    let placed = client
        .order(
            "ssl_basic",
            &new_order(csr(&key, &["cc.example.com"]), "cc.example.com", true),
        )
        .await
        .expect("order");
    assert!(placed.issued());
    assert_eq!(
        leaf_spki(&placed.certificate_chain[0].pem),
        key.subject_public_key_info()
    );
    let certificate_id = placed.certificate_id.expect("certificate id");

    let note = client
        .add_note(placed.order_id, &marker("uid-1").note_text())
        .await
        .expect("note");
    assert!(marker("uid-1").is_in(&note.text));
    let info = client.order_info(placed.order_id).await.expect("info");
    assert_eq!(info.outcome(), OrderOutcome::Issued);
    assert_eq!(info.certificate.id, Some(certificate_id));
    assert_eq!(client.notes(placed.order_id).await.expect("notes").len(), 1);

    let chain = client
        .download_chain(certificate_id, ChainFormat::PemAll)
        .await
        .expect("chain");
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[2].trim(), sim.root_ca_pem().trim());
    let no_root = client
        .download_chain_by_order(placed.order_id, ChainFormat::PemNoRoot)
        .await
        .expect("chain by order");
    assert_eq!(no_root.len(), 2);

    let rotated = KeyPair::generate().expect("key");
    let reissued = client
        .reissue(
            placed.order_id,
            &Reissue {
                csr: csr(&rotated, &["cc.example.com"]),
                common_name: "cc.example.com".into(),
                dns_names: Vec::new(),
                skip_approval: true,
                comments: None,
            },
        )
        .await
        .expect("reissue");
    let new_id = reissued.certificate_id.expect("reissued at once");
    assert_ne!(new_id, certificate_id);
    let chain = client
        .download_chain(new_id, ChainFormat::PemNoRoot)
        .await
        .expect("new chain");
    assert_eq!(leaf_spki(&chain[0]), rotated.subject_public_key_info());

    let revoked = client
        .revoke(
            new_id,
            &Revocation {
                skip_approval: true,
                revocation_reason: Some("superseded".into()),
                ..Revocation::default()
            },
        )
        .await
        .expect("revoke");
    assert_eq!(revoked, RevokeOutcome::Revoked);
    let info = client.order_info(placed.order_id).await.expect("info");
    assert_eq!(info.outcome(), OrderOutcome::Revoked);
}

#[tokio::test]
async fn recovery_finds_our_order_by_note_or_csr_and_nothing_else() {
    let sim = sim(|o| o.certcentral_pending_validation = true).await;
    let client = client(&sim);
    let ours = csr(&KeyPair::generate().expect("key"), &["r.example.com"]);
    let theirs = csr(&KeyPair::generate().expect("key"), &["r.example.com"]);
    let noted = client
        .order("ssl_plus", &new_order(theirs.clone(), "r.example.com", true))
        .await
        .expect("order");
    client
        .add_note(noted.order_id, &marker("uid-noted").note_text())
        .await
        .expect("note");
    // Crashed between ordering and noting: only the CSR can tell.
    let unnoted = client
        .order("ssl_plus", &new_order(ours.clone(), "r.example.com", true))
        .await
        .expect("order");
    assert!(!unnoted.issued(), "pending validation");
    client
        .order("ssl_plus", &new_order(theirs.clone(), "r.example.com", false))
        .await
        .expect("order");

    let statuses = ["pending", "issued"];
    let by_note = client
        .find_our_order("r.example.com", &statuses, &marker("uid-noted"), None, 10)
        .await
        .expect("lookup");
    assert_eq!(by_note.map(|o| o.id), Some(noted.order_id));
    let by_csr = client
        .find_our_order("r.example.com", &statuses, &marker("uid-other"), Some(&ours), 10)
        .await
        .expect("lookup");
    let found = by_csr.expect("found by CSR");
    assert_eq!(found.id, unnoted.order_id);
    assert_eq!(found.outcome(), OrderOutcome::AwaitingValidation);
    let none = client
        .find_our_order("r.example.com", &statuses, &marker("uid-other"), None, 10)
        .await
        .expect("lookup");
    assert!(none.is_none());

    sim.certcentral_issue(unnoted.order_id).expect("admin issues");
    let info = client.order_info(unnoted.order_id).await.expect("info");
    assert_eq!(info.outcome(), OrderOutcome::Issued);
    sim.certcentral_settle(noted.order_id, false).expect("reject");
    assert_eq!(
        client.order_info(noted.order_id).await.expect("info").outcome(),
        OrderOutcome::Rejected
    );
}

#[tokio::test]
async fn invalid_orders_are_typed_errors() {
    let sim = sim(|_| {}).await;
    let client = client(&sim);
    let key = KeyPair::generate().expect("key");
    let wrong_names = new_order(csr(&key, &["a.example.com"]), "b.example.com", true);
    let error = client.order("ssl_basic", &wrong_names).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.code(), Some("csr_names_mismatch"));
    assert_eq!(
        error.class(),
        tlm_operator::clients::error::ErrorClass::InvalidInput
    );
    let missing = client.order_info(4242).await.unwrap_err();
    assert_eq!(
        missing.class(),
        tlm_operator::clients::error::ErrorClass::NotFound
    );
}

#[tokio::test]
async fn the_rate_limit_and_retry_after_are_waited_out() {
    let sim = sim(|o| o.certcentral_rate_limits = vec![(2, Duration::from_millis(700))]).await;
    let client = client(&sim);
    let key = KeyPair::generate().expect("key");
    let placed = client
        .order(
            "ssl_basic",
            &new_order(csr(&key, &["t.example.com"]), "t.example.com", true),
        )
        .await
        .expect("order");
    for _ in 0..3 {
        client
            .order_info(placed.order_id)
            .await
            .expect("info after the 429s pass");
    }
    let counters = sim.counters();
    assert!(
        counters.responses.get("cc_order_info:429").copied().unwrap_or(0) >= 1,
        "{:?}",
        counters.responses
    );

    sim.set_faults(vec![FaultRule {
        endpoint: "cc_orders".into(),
        throttle_rate: 1.0,
        retry_after_seconds: 2,
        count: Some(1),
        ..FaultRule::default()
    }])
    .expect("faults");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let started = Instant::now();
    let found = client
        .find_orders("t.example.com", Some("issued"), Default::default())
        .await
        .expect("list");
    assert_eq!(found.len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After honoured"
    );
}
