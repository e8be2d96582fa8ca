//! Issuance faults: a certificate for the wrong key, with a chain that does not verify, or
//! for the wrong names. The choice sticks to the certificate.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tlm_sim::FaultRule;
use x509_parser::extensions::GeneralName;

use crate::support::*;

fn rule(endpoint: &str, configure: impl FnOnce(&mut FaultRule)) -> Vec<FaultRule> {
    let mut rule = FaultRule {
        endpoint: endpoint.into(),
        count: Some(1),
        ..FaultRule::default()
    };
    configure(&mut rule);
    vec![rule]
}

fn chain_request(key: &rcgen::KeyPair, name: &str) -> Value {
    let mut body = top_level_request("prof-x509", &csr_pem(key, None, &[]), name, &[name]);
    body["include_ca_chain"] = json!(true);
    body
}

#[tokio::test]
async fn wrong_key_issues_for_a_key_nobody_asked_for() {
    let sim = start().await;
    sim.set_faults(rule("submit", |r| r.wrong_key_rate = 1.0))
        .expect("rule");
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let body = tlm.issue("prof-x509", &key, "wrongkey.example.com", &[]).await;
    let leaf = single_cert_der(body["certificate"].as_str().expect("certificate"));
    assert_ne!(parse_cert(&leaf).public_key().raw, spki_der(&key).as_slice());
    let csr_key = sha256_hex(&spki_der(&key));
    assert_eq!(
        sim.counters().orders_by_public_key.get(&csr_key),
        Some(&1),
        "the CSR's key ordered"
    );
    assert_eq!(sim.requests()[0].public_key_sha256, csr_key);
    let status = tlm
        .status(body["serial_number"].as_str().expect("serial"))
        .await
        .json();
    assert_eq!(
        status_der(&status),
        leaf,
        "status reports the certificate as issued"
    );

    let next = tlm.issue("prof-x509", &key, "rightkey.example.com", &[]).await;
    let leaf = single_cert_der(next["certificate"].as_str().expect("certificate"));
    assert_eq!(
        parse_cert(&leaf).public_key().raw,
        spki_der(&key).as_slice(),
        "count spent"
    );
}

#[tokio::test]
async fn broken_chain_serves_an_intermediate_that_did_not_sign() {
    let sim = start().await;
    sim.set_faults(rule("submit", |r| r.broken_chain_rate = 1.0))
        .expect("rule");
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let reply = tlm.submit(&chain_request(&key, "broken.example.com")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let body = reply.json();
    let blocks = pem_blocks(body["certificate"].as_str().expect("certificate"));
    let (leaf, impostor) = (&blocks[0].1, &blocks[1].1);
    let real = single_cert_der(sim.intermediate_pem());
    assert_ne!(impostor, &real);
    assert_eq!(
        parse_cert(impostor).subject(),
        parse_cert(&real).subject(),
        "same name"
    );
    assert!(
        parse_cert(leaf)
            .verify_signature(Some(parse_cert(impostor).public_key()))
            .is_err()
    );
    parse_cert(leaf)
        .verify_signature(Some(parse_cert(&real).public_key()))
        .expect("the real intermediate signed it");

    // Every later answer about it serves the same impostor.
    let serial = body["serial_number"].as_str().expect("serial");
    let formats = tlm
        .get(&format!("/mpki/api/v1/certificate/{serial}/additional-formats"))
        .await
        .json();
    let chained = single_cert_der(formats["x509_cert_chain"][1]["cert_blob"].as_str().expect("blob"));
    assert_eq!(&chained, impostor);
    let in_pkcs7 = pkcs7_certificates(formats["pkcs7"].as_str().expect("pkcs7"));
    assert!(in_pkcs7.contains(impostor) && !in_pkcs7.contains(&real));

    let fine = tlm.submit(&chain_request(&key, "fine.example.com")).await.json();
    let blocks = pem_blocks(fine["certificate"].as_str().expect("certificate"));
    assert_eq!(blocks[1].1, real, "count spent: the next chain is right");
}

#[tokio::test]
async fn wrong_names_issues_other_dns_names() {
    let sim = start().await;
    sim.set_faults(rule("submit", |r| r.wrong_names_rate = 1.0))
        .expect("rule");
    let tlm = Tlm::new(&sim);
    let body = tlm
        .issue(
            "prof-x509",
            &key_pair(KeyAlg::P256),
            "names.example.com",
            &["names.example.com"],
        )
        .await;
    let leaf = single_cert_der(body["certificate"].as_str().expect("certificate"));
    let cert = parse_cert(&leaf);
    let san = cert
        .subject_alternative_name()
        .expect("ext")
        .expect("san")
        .value
        .general_names
        .clone();
    assert_eq!(san, vec![GeneralName::DNSName("wrong-names.example.com")]);
    let status = tlm
        .status(body["serial_number"].as_str().expect("serial"))
        .await
        .json();
    assert_eq!(status["san"]["dns_names"], json!(["wrong-names.example.com"]));
}

#[tokio::test]
async fn a_pickup_that_releases_a_request_draws_the_faults() {
    let sim = start().await;
    sim.set_faults(rule("pickup", |r| r.wrong_key_rate = 1.0))
        .expect("rule");
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let request_id = tlm.request_id("prof-pickup", &key, "pickupkey.example.com").await;
    // The first pickup signs nothing, so it leaves the rule's count alone.
    assert_eq!(
        tlm.pickup(&request_id, "prof-pickup").await.json()["status"],
        "PENDING"
    );
    let issued = tlm.pickup(&request_id, "prof-pickup").await.json();
    assert_eq!(issued["status"], "ISSUED");
    let leaf = single_cert_der(issued["certificate"].as_str().expect("certificate"));
    assert_ne!(parse_cert(&leaf).public_key().raw, spki_der(&key).as_slice());
    let again = tlm.pickup(&request_id, "prof-pickup").await.json();
    assert_eq!(again["certificate"], issued["certificate"], "the choice sticks");

    // Admin approval signs without faults.
    sim.set_faults(rule("pickup", |r| r.wrong_key_rate = 1.0))
        .expect("rule");
    let approved = tlm.request_id("prof-pending", &key, "approved.example.com").await;
    sim.approve(&approved).expect("approve");
    let answer = tlm.pickup(&approved, "prof-pending").await.json();
    let leaf = single_cert_der(answer["certificate"].as_str().expect("certificate"));
    assert_eq!(parse_cert(&leaf).public_key().raw, spki_der(&key).as_slice());
}
