//! Issuances per second, client -> tlm-sim over loopback, per key type: key generation, CSR,
//! submit, additional formats, chain and key verification — what the operator does per
//! certificate, without Kubernetes.
//!
//! `cargo bench --bench tlm_issuance`

use std::num::NonZeroU32;
use std::time::Instant;

use futures::StreamExt;
use secrecy::SecretString;
use tlm_operator::api::KeyAlgorithm;
use tlm_operator::clients::http::HttpSettings;
use tlm_operator::clients::retry::RetryPolicy;
use tlm_operator::clients::throttle::ThrottleSettings;
use tlm_operator::clients::tlm::{TlmClient, TlmClientConfig};
use tlm_operator::clients::tlm_types::*;
use tlm_operator::pki::{CsrRequest, PrivateKey, build_csr_pem, certs_from_pem, order_chain, verify_chain};

async fn one(client: &TlmClient, alg: KeyAlgorithm, size: Option<u32>, i: usize) {
    let key = tokio::task::spawn_blocking(move || PrivateKey::generate(alg, size))
        .await
        .unwrap()
        .unwrap();
    let name = format!("bench-{i}.example.com");
    let csr = build_csr_pem(
        &CsrRequest {
            common_name: Some(name.clone()),
            dns_names: vec![name.clone()],
            ..Default::default()
        },
        &key,
    )
    .unwrap();
    let request = SubmitRequest {
        profile: IdRef {
            id: "prof-x509".into(),
        },
        seat: SeatRef {
            seat_id: name.clone(),
        },
        csr,
        validity: None,
        delivery_format: "x509".into(),
        include_ca_chain: true,
        attributes: Attributes {
            subject: SubjectAttributes {
                common_name: Some(name),
                ..Default::default()
            },
            extensions: None,
        },
    };
    let serial = client.submit(&request).await.unwrap().serial_number.unwrap();
    let formats = client.additional_formats(&serial).await.unwrap();
    let certs: Vec<Vec<u8>> = formats
        .x509_cert_chain
        .iter()
        .flat_map(|e| certs_from_pem(&e.cert_blob).unwrap())
        .collect();
    let chain = order_chain(&certs, Some(&key.spki_der())).unwrap();
    verify_chain(&chain).unwrap();
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sim = tlm_sim::Sim::start(tlm_sim::SimOptions::default()).await.unwrap();
    let client = TlmClient::new(TlmClientConfig {
        base_url: sim.url().to_string(),
        api_key: SecretString::from("test-api-key"),
        http: HttpSettings::default(),
        throttle: ThrottleSettings {
            requests_per_second: NonZeroU32::new(100_000).unwrap(),
            start_per_second: None,
            burst: NonZeroU32::new(100_000).unwrap(),
            max_concurrency: 16,
        },
        retry: RetryPolicy::default(),
    })
    .unwrap();
    println!("\n## TLM issuance benchmark (client -> tlm-sim on loopback, 8 in flight, 2-core machine)\n");
    println!("| key | issuances | seconds | issuances/s |\n| --- | --- | --- | --- |");
    for (label, alg, size, n) in [
        ("ECDSA P-256", KeyAlgorithm::ECDSA, Some(256), 1000),
        ("ECDSA P-384", KeyAlgorithm::ECDSA, Some(384), 500),
        ("Ed25519", KeyAlgorithm::Ed25519, None, 1000),
        ("RSA 2048", KeyAlgorithm::RSA, Some(2048), 100),
        ("RSA 3072", KeyAlgorithm::RSA, Some(3072), 40),
        ("RSA 4096", KeyAlgorithm::RSA, Some(4096), 20),
    ] {
        let start = Instant::now();
        futures::stream::iter(0..n)
            .for_each_concurrent(8, |i| one(&client, alg, size, i))
            .await;
        let secs = start.elapsed().as_secs_f64();
        println!("| {label} | {n} | {secs:.2} | {:.1} |", n as f64 / secs);
    }
    sim.shutdown().await;
}
