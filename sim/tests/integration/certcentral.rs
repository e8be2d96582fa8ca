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
    let unknown = download(&sim, "123456789", Some("test-devkey"), Some("tlm-sim Issuing CA")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "not_found");
}

/// CertCentral's spelling of a serial: lower-case hex, no leading zeros, no colons.
fn ct_serial(tlm_serial: &str) -> String {
    let lower = tlm_serial.to_ascii_lowercase();
    lower.trim_start_matches('0').to_string()
}

#[tokio::test]
async fn returns_the_pem_of_tlm_and_injected_certificates() {
    let sim = start_with(|o| o.certcentral_api_keys = vec!["dev-1".into(), "dev-2".into()]).await;
    let body = Tlm::new(&sim)
        .issue("prof-x509", &key_pair(KeyAlg::P256), "cc.example.com", &[])
        .await;
    let serial = body["serial_number"].as_str().expect("serial");
    let leaf_der = single_cert_der(body["certificate"].as_str().expect("certificate"));
    let serial = ct_serial(serial);

    let found = download(&sim, &serial, Some("dev-2"), Some("tlm-sim Issuing CA")).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(
        single_cert_der(found.json()["pem"].as_str().expect("pem")),
        leaf_der
    );
    let without_slash = send(
        client()
            .get(format!(
                "{}/services/v2/ctmonitor/9/ct-cert/{serial}?issuer=tlm-sim%20Issuing%20CA",
                sim.url()
            ))
            .header("X-DC-DEVKEY", "dev-1"),
    )
    .await;
    assert_eq!(without_slash.status, StatusCode::OK);
    assert_eq!(
        download(&sim, &serial, Some("test-devkey"), Some("tlm-sim Issuing CA"))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    sim.inject_issuance(Injection {
        dns_names: vec!["cc-rogue.example.com".into()],
        issuer_name: Some("C=US, O=Rogue Inc, CN=Rogue Issuing CA".into()),
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
    let rogue_serial = ct_serial(&hex::encode(parse_cert(&der).raw_serial()));
    let rogue = download(&sim, &rogue_serial, Some("dev-1"), Some("Rogue Issuing CA")).await;
    assert_eq!(rogue.status, StatusCode::OK);
    assert_eq!(single_cert_der(rogue.json()["pem"].as_str().expect("pem")), der);
    let other_issuer = download(&sim, &rogue_serial, Some("dev-1"), Some("tlm-sim Issuing CA")).await;
    assert_eq!(
        other_issuer.status,
        StatusCode::NOT_FOUND,
        "the issuer must be the one that issued it"
    );
}

#[tokio::test]
async fn issuer_and_serial_must_be_spelt_exactly() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let serial = tlm.issue_serial("prof-x509", &key, "spelling.example.com").await;
    let exact = ct_serial(&serial);
    let devkey = Some("test-devkey");
    let issuer = Some("tlm-sim Issuing CA");
    assert_eq!(
        download(&sim, &exact, devkey, issuer).await.status,
        StatusCode::OK
    );

    let colons: String = serial
        .to_ascii_lowercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).expect("hex"))
        .collect::<Vec<_>>()
        .join(":");
    for wrong_serial in [
        serial.clone(),
        exact.to_ascii_uppercase(),
        format!("00{exact}"),
        format!("0{exact}"),
        colons,
    ] {
        let reply = download(&sim, &wrong_serial, devkey, issuer).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{wrong_serial}");
        assert_eq!(reply.error_code(), "not_found");
    }
    for wrong_issuer in [
        "C=US, O=tlm-sim, CN=tlm-sim Issuing CA",
        "tlm-sim issuing ca",
        "tlm-sim Root CA",
        "DigiCert",
    ] {
        let reply = download(&sim, &exact, devkey, Some(wrong_issuer)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{wrong_issuer}");
    }
}
