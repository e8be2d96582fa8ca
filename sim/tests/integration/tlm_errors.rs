//! The TLM error model: every documented code, in `{"errors":[{"code","message"}]}`.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn missing_or_unknown_key_is_401() {
    let sim = start().await;
    let anonymous = Tlm::with_key(&sim, None);
    let stranger = Tlm::with_key(&sim, Some("who-am-i"));
    for path in [
        "/mpki/api/v2/profile",
        "/mpki/api/v1/certificate/AB",
        "/mpki/api/v1/certificate-search",
    ] {
        let missing = anonymous.get(path).await;
        assert_eq!(missing.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(missing.error_code(), "AUTHORIZATION_ERROR");
        assert_eq!(
            missing.json()["errors"][0]["message"],
            "No authentication data provided"
        );
        let unknown = stranger.get(path).await;
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(unknown.error_code(), "AUTHORIZATION_ERROR");
    }
    let submit = anonymous.submit(&json!({})).await;
    assert_eq!(submit.status, StatusCode::UNAUTHORIZED);
    let pickup = stranger
        .post("/mpki/api/v1/certificate-pickup/r", &json!({}))
        .await;
    assert_eq!(pickup.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn limited_key_gets_no_access_outside_its_profiles() {
    let sim = start().await;
    let limited = Tlm::with_key(&sim, Some(LIMITED_KEY));
    let key = key_pair(KeyAlg::P256);
    let csr = csr_pem(&key, Some("limited.example.com"), &[]);
    let refused = limited
        .submit(&top_level_request("prof-pkcs7", &csr, "limited.example.com", &[]))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "no_access");
    assert_eq!(refused.json()["errors"][0]["message"], "Not enough permissions");
    let allowed = limited
        .submit(&top_level_request("prof-x509", &csr, "limited.example.com", &[]))
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED);

    let other = Tlm::new(&sim)
        .issue("prof-pkcs7", &key, "full.example.com", &[])
        .await;
    let serial = other["serial_number"].as_str().expect("serial");
    let status = limited.status(serial).await;
    assert_eq!(status.status, StatusCode::FORBIDDEN);
    assert_eq!(status.error_code(), "no_access");
    let revoke = limited
        .put(&format!("/mpki/api/v1/certificate/{serial}/revoke"), &json!({}))
        .await;
    assert_eq!(revoke.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn invalid_input_field_for_every_bad_submit() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let good_csr = csr_pem(&key, Some("ok.example.com"), &[]);

    let not_json = tlm.post_raw("/mpki/api/v1/certificate", "{not json").await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.error_code(), "invalid_input_field");
    let wrong_type = tlm
        .post_raw(
            "/mpki/api/v1/certificate",
            r#"{"profile":{"id":"prof-x509"},"csr":42}"#,
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.error_code(), "invalid_input_field");

    let cases = [
        ("no profile", json!({"csr": good_csr})),
        (
            "unknown profile",
            top_level_request("prof-nope", &good_csr, "ok.example.com", &[]),
        ),
        (
            "no csr",
            json!({"profile": {"id": "prof-x509"}, "attributes": {"subject": {"common_name": "a.com"}}}),
        ),
        (
            "garbage csr",
            top_level_request(
                "prof-x509",
                "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
                "a.com",
                &[],
            ),
        ),
        ("not pem", top_level_request("prof-x509", "hello", "a.com", &[])),
        (
            "no names",
            json!({"profile": {"id": "prof-x509"}, "csr": csr_pem(&key, None, &[])}),
        ),
        (
            "bad validity",
            json!({"profile": {"id": "prof-x509"}, "csr": good_csr, "validity": {"unit": "fortnights", "duration": 1}}),
        ),
        (
            "bad dns name",
            top_level_request(
                "prof-x509",
                &good_csr,
                "ok.example.com",
                &["bad name.example.com"],
            ),
        ),
        (
            "disabled",
            top_level_request("prof-disabled", &good_csr, "ok.example.com", &[]),
        ),
        (
            "scep",
            top_level_request("prof-scep", &good_csr, "ok.example.com", &[]),
        ),
        (
            "cn required",
            json!({"profile": {"id": "prof-cn-required"}, "csr": csr_pem(&key, None, &["san-only.example.com"])}),
        ),
    ];
    for (name, body) in cases {
        let reply = tlm.submit(&body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {}", reply.text);
        assert_eq!(reply.error_code(), "invalid_input_field", "{name}");
    }

    let tlm_ref = &tlm;
    let message = |body| async move { tlm_ref.submit(&body).await.json()["errors"][0]["message"].clone() };
    assert_eq!(
        message(top_level_request("prof-disabled", &good_csr, "a.com", &[])).await,
        "profile is disabled"
    );
    assert_eq!(
        message(top_level_request("prof-scep", &good_csr, "a.com", &[])).await,
        "profile does not allow rest_api enrollment"
    );
    let garbage = message(top_level_request("prof-x509", "hello", "a.com", &[])).await;
    assert!(
        garbage.as_str().is_some_and(|m| m.starts_with("Invalid CSR")),
        "{garbage}"
    );

    // Same CN-required profile with a CN is fine; SAN-only is fine on a normal profile.
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
        .submit(
            &json!({"profile": {"id": "prof-x509"}, "csr": csr_pem(&key, None, &["san-only.example.com"])}),
        )
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
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "invalid_input_field");
    let message = reply.json()["errors"][0]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.contains("Invalid CSR") && message.contains("signature"),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_serials_are_404_not_found() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    for path in [
        "/mpki/api/v1/certificate/00DEAD",
        "/mpki/api/v1/certificate/00DEAD/additional-formats",
    ] {
        let reply = tlm.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.error_code(), "not_found");
    }
    let revoke = tlm
        .put("/mpki/api/v1/certificate/00DEAD/revoke", &json!({}))
        .await;
    assert_eq!(revoke.status, StatusCode::NOT_FOUND);
    assert_eq!(revoke.error_code(), "not_found");
}

#[tokio::test]
async fn serials_match_case_insensitively() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let body = tlm
        .issue("prof-x509", &key_pair(KeyAlg::P256), "case.example.com", &[])
        .await;
    let serial = body["serial_number"].as_str().expect("serial");
    let status = tlm.status(&serial.to_ascii_lowercase()).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["serial_number"], serial);
}
