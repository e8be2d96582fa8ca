//! CertCentral's CT-monitor download: auth, required issuer, 404, and the PEM of feed certificates.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use tlm_sim::Injection;

use crate::support::*;

async fn download(sim: &tlm_sim::Sim, serial: &str, key: Option<&str>, issuer: Option<&str>) -> Reply {
    let mut request = client().get(format!(
        "{}/services/v2/ctmonitor/12345/ct-cert/{serial}/",
        sim.url()
    ));
    if let Some(issuer) = issuer {
        request = request.query(&[("issuer", issuer)]);
    }
    if let Some(key) = key {
        request = request.header("X-DC-DEVKEY", key);
    }
    send(request).await
}

#[tokio::test]
async fn devkey_is_required() {
    let sim = start().await;
    let missing = download(&sim, "01", None, Some("DigiCert")).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.error_code(), "access_denied");
    let wrong = download(&sim, "01", Some("not-a-key"), Some("DigiCert")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.error_code(), "access_denied");
}

#[tokio::test]
async fn issuer_is_required_and_unknown_serials_are_404() {
    let sim = start().await;
    let no_issuer = download(&sim, "01", Some("test-devkey"), None).await;
    assert_eq!(no_issuer.status, StatusCode::BAD_REQUEST);
    let unknown = download(&sim, "0123456789", Some("test-devkey"), Some("DigiCert")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "not_found");
}

#[tokio::test]
async fn returns_the_pem_of_tlm_and_injected_certificates() {
    let sim = start_with(|o| o.certcentral_api_keys = vec!["dev-1".into(), "dev-2".into()]).await;
    let body = Tlm::new(&sim)
        .issue("prof-x509", &key_pair(KeyAlg::P256), "cc.example.com", &[])
        .await;
    let serial = body["serial_number"].as_str().expect("serial");
    let leaf_der = single_cert_der(body["certificate"].as_str().expect("certificate"));

    let found = download(
        &sim,
        &serial.to_ascii_lowercase(),
        Some("dev-2"),
        Some("tlm-sim Issuing CA"),
    )
    .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(
        single_cert_der(found.json()["pem"].as_str().expect("pem")),
        leaf_der
    );
    let without_slash = send(
        client()
            .get(format!(
                "{}/services/v2/ctmonitor/9/ct-cert/{serial}?issuer=x",
                sim.url()
            ))
            .header("X-DC-DEVKEY", "dev-1"),
    )
    .await;
    assert_eq!(without_slash.status, StatusCode::OK);
    assert_eq!(
        download(&sim, serial, Some("test-devkey"), Some("x"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    sim.inject_issuance(Injection {
        dns_names: vec!["cc-rogue.example.com".into()],
        ..Injection::default()
    })
    .expect("inject");
    let feed = send(
        client()
            .get(format!("{}/v1/issuances", sim.url()))
            .query(&[("domain", "cc-rogue.example.com"), ("expand", "cert")]),
    )
    .await
    .json();
    let der = STANDARD
        .decode(feed[0]["cert"]["data"].as_str().expect("cert data"))
        .expect("base64");
    let rogue_serial = hex::encode(parse_cert(&der).raw_serial());
    let rogue = download(&sim, &rogue_serial, Some("dev-1"), Some("Rogue")).await;
    assert_eq!(rogue.status, StatusCode::OK);
    assert_eq!(single_cert_der(rogue.json()["pem"].as_str().expect("pem")), der);
}
