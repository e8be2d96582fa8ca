//! The TLM error model: DigiCert ONE's codes in `{"errors":[{"code","message","field"?}]}`.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn missing_or_unknown_key_is_401_invalid_api_key() {
    let sim = start().await;
    let anonymous = Tlm::with_key(&sim, None);
    let stranger = Tlm::with_key(&sim, Some("who-am-i"));
    for path in [
        "/mpki/api/v2/profile",
        "/mpki/api/v2/profile/prof-x509",
        "/mpki/api/v1/certificate/AB",
        "/mpki/api/v1/certificate-search",
    ] {
        let missing = anonymous.get(path).await;
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(missing.error_code(), "invalid_api_key");
        assert_eq!(missing.error_message(), "No authentication data provided");
        let unknown = stranger.get(path).await;
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(unknown.error_code(), "invalid_api_key");
    }
    let submit = anonymous.submit(&json!({})).await;
    assert_eq!(submit.status, StatusCode::UNAUTHORIZED);
    let pickup = stranger.pickup("r", "prof-pickup").await;
    assert_eq!(pickup.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn limited_key_gets_access_denied_outside_its_profiles() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let limited = Tlm::with_key(&sim, Some(LIMITED_KEY));
    let key = key_pair(KeyAlg::P256);
    let csr = csr_pem(&key, Some("limited.example.com"), &[]);
    let refused = limited
        .submit(&top_level_request("prof-pkcs7", &csr, "limited.example.com", &[]))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "access_denied");
    assert_eq!(refused.error_message(), "Not enough permissions");
    let allowed = limited
        .submit(&top_level_request("prof-x509", &csr, "limited.example.com", &[]))
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED);

    let serial = tlm.issue_serial("prof-pkcs7", &key, "full.example.com").await;
    for reply in [
        limited.status(&serial).await,
        limited
            .get(&format!("/mpki/api/v1/certificate/{serial}/additional-formats"))
            .await,
        limited.revoke(&serial, None, "superseded").await,
        limited.get("/mpki/api/v2/profile/prof-pkcs7").await,
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
        assert_eq!(reply.error_code(), "access_denied");
    }
    let request_id = tlm.request_id("prof-pickup", &key, "pickup.example.com").await;
    let pickup = limited.pickup(&request_id, "prof-pickup").await;
    assert_eq!(pickup.status, StatusCode::FORBIDDEN);
    assert_eq!(pickup.error_code(), "access_denied");
}

#[tokio::test]
async fn every_bad_submit_names_its_field() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let good_csr = csr_pem(&key, Some("ok.example.com"), &[]);

    let not_json = tlm.post_raw("/mpki/api/v1/certificate", "{not json").await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.error_code(), "invalid_request");
    let not_object = tlm.post_raw("/mpki/api/v1/certificate", "[]").await;
    assert_eq!(not_object.error_code(), "invalid_request");
    let wrong_type = tlm
        .post_raw(
            "/mpki/api/v1/certificate",
            r#"{"profile":{"id":"prof-x509"},"seat":{"seat_id":"s"},"csr":42}"#,
        )
        .await;
    wrong_type.assert_invalid_field("csr");

    let seat = json!({"seat_id": "s"});
    let cases = [
        ("profile", json!({"seat": seat, "csr": good_csr})),
        (
            "profile.id",
            top_level_request("prof-nope", &good_csr, "ok.example.com", &[]),
        ),
        ("seat", json!({"profile": {"id": "prof-x509"}, "csr": good_csr})),
        ("csr", json!({"profile": {"id": "prof-x509"}, "seat": seat})),
        (
            "csr",
            top_level_request(
                "prof-x509",
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
                "a.com",
                &[],
            ),
        ),
        ("csr", top_level_request("prof-x509", "hello!", "a.com", &[])),
        (
            "attributes",
            minimal_request("prof-x509", &csr_pem(&key, None, &[])),
        ),
        (
            "validity.unit",
            json!({"profile": {"id": "prof-x509"}, "seat": seat, "csr": good_csr,
                   "validity": {"unit": "fortnights", "duration": 1}}),
        ),
        (
            "attributes.extensions.san.dns_names",
            top_level_request(
                "prof-x509",
                &good_csr,
                "ok.example.com",
                &["bad name.example.com"],
            ),
        ),
        (
            "profile.id",
            top_level_request("prof-disabled", &good_csr, "ok.example.com", &[]),
        ),
        (
            "profile.id",
            top_level_request("prof-scep", &good_csr, "ok.example.com", &[]),
        ),
        (
            "attributes.subject.common_name",
            minimal_request(
                "prof-cn-required",
                &csr_pem(&key, None, &["san-only.example.com"]),
            ),
        ),
    ];
    for (field, body) in cases {
        tlm.submit(&body).await.assert_invalid_field(field);
    }

    let message = |reply: Reply| reply.error_message();
    assert_eq!(
        message(
            tlm.submit(&top_level_request("prof-disabled", &good_csr, "a.com", &[]))
                .await
        ),
        "profile is disabled"
    );
    assert_eq!(
        message(
            tlm.submit(&top_level_request("prof-scep", &good_csr, "a.com", &[]))
                .await
        ),
        "profile does not allow rest_api enrollment"
    );
    let garbage = message(
        tlm.submit(&top_level_request("prof-x509", "hello!", "a.com", &[]))
            .await,
    );
    assert!(garbage.starts_with("Invalid CSR"), "{garbage}");

    // The same CN-required profile with a CN is fine; SAN-only is fine on a normal profile.
    let with_cn = tlm
        .submit(&top_level_request(
            "prof-cn-required",
            &good_csr,
            "cn.example.com",
            &[],
        ))
        .await;
    assert_eq!(with_cn.status, StatusCode::CREATED);
    let san_only = tlm
        .submit(&minimal_request(
            "prof-x509",
            &csr_pem(&key, None, &["san-only.example.com"]),
        ))
        .await;
    assert_eq!(san_only.status, StatusCode::CREATED);
}

#[tokio::test]
async fn tampered_csr_signature_is_refused() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let pem = csr_pem(&key, Some("tamper.example.com"), &[]);
    let mut der = pem_blocks(&pem).remove(0).1;
    let at = der.windows(7).position(|w| w == b"tamper.").expect("CN in DER");
    der[at] = b'T';
    let tampered = format!(
        "-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der)
    );
    let reply = tlm
        .submit(&top_level_request(
            "prof-x509",
            &tampered,
            "tamper.example.com",
            &[],
        ))
        .await;
    reply.assert_invalid_field("csr");
    let message = reply.error_message();
    assert!(
        message.contains("Invalid CSR") && message.contains("signature"),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_serials_are_404_resource_not_found() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let csr = csr_pem(&key_pair(KeyAlg::P256), Some("x.example.com"), &[]);
    for reply in [
        tlm.status("00DEAD").await,
        tlm.get("/mpki/api/v1/certificate/00DEAD/additional-formats")
            .await,
        tlm.revoke("00DEAD", None, "superseded").await,
        tlm.renew("00DEAD", None, &json!({"csr": csr})).await,
        tlm.pickup("req-nope", "prof-pickup").await,
    ] {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
        assert_eq!(reply.error_code(), "resource_not_found");
    }
}

#[tokio::test]
async fn serials_match_case_insensitively() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let serial = tlm
        .issue_serial("prof-x509", &key_pair(KeyAlg::P256), "case.example.com")
        .await;
    let status = tlm.status(&serial.to_ascii_lowercase()).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["serial_number"], serial);
}

#[tokio::test]
async fn an_unknown_profile_id_is_403_access_denied() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let unknown = tlm.get("/mpki/api/v2/profile/prof-nope").await;
    assert_eq!(unknown.status, StatusCode::FORBIDDEN);
    assert_eq!(unknown.error_code(), "access_denied");
}
