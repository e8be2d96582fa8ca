//! Revocation and suspension, shared serial numbers (`prof-collide`), and certificate states
//! set through the admin API or reached by time.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn revoke_with_a_reason_once() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let serial = tlm
        .issue_serial("prof-x509", &key_pair(KeyAlg::P256), "revoke.example.com")
        .await;
    let path = format!("/mpki/api/v1/certificate/{serial}/revoke");
    let no_body = send(tlm.client.put(tlm.url(&path)).header("x-api-key", KEY)).await;
    assert_eq!(no_body.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_body.error_code(), "invalid_request");
    tlm.put(&path, &json!({}))
        .await
        .assert_invalid_field("revocation_reason");
    tlm.revoke(&serial, None, "because")
        .await
        .assert_invalid_field("revocation_reason");
    tlm.put(&path, &json!({"revocation_reason": "superseded", "comment": "x"}))
        .await
        .assert_invalid_field("comment");

    let first = tlm.revoke(&serial, None, "key_compromise").await;
    assert_eq!(first.status, StatusCode::NO_CONTENT);
    assert!(first.text.is_empty());
    let status = tlm.status(&serial).await.json();
    assert_eq!(status["status"], "revoked");
    assert_eq!(status["revocation_reason"], "key_compromise");
    assert_eq!(status["revocation"]["reason"], "key_compromise");
    let second = tlm.revoke(&serial, None, "key_compromise").await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.error_code(), "invalid_input_field");
    assert_eq!(second.error_message(), "Certificate already has been revoked");
}

#[tokio::test]
async fn certificate_hold_suspends() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let serial = tlm
        .issue_serial("prof-x509", &key_pair(KeyAlg::P256), "hold.example.com")
        .await;
    assert_eq!(
        tlm.revoke(&serial, None, "certificate_hold").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(tlm.status(&serial).await.json()["status"], "suspended");
    assert_eq!(tlm.search("status=SUSPENDED").await.json()["total"], 1);
    assert_eq!(
        tlm.revoke(&serial, None, "certificate_hold").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        tlm.revoke(&serial, None, "cessation_of_operation").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(tlm.status(&serial).await.json()["status"], "revoked");
}

#[tokio::test]
async fn a_shared_serial_needs_the_thumbprint() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let body = tlm
        .issue(
            "prof-collide",
            &key,
            "collide.example.com",
            &["collide.example.com"],
        )
        .await;
    let serial = body["serial_number"].as_str().expect("serial").to_string();
    let leaf = single_cert_der(body["certificate"].as_str().expect("certificate"));
    let thumbprint = sha256_hex(&leaf).to_ascii_uppercase();

    let twins = tlm.search_items(&format!("serial_number={serial}")).await;
    assert_eq!(twins.len(), 2, "the serial is shared");
    assert!(
        twins
            .iter()
            .all(|t| t["status"] == "issued" && t["profile"]["id"] == "prof-collide")
    );
    let decoy = twins
        .iter()
        .find(|t| t["thumbprint"] != thumbprint.as_str())
        .expect("decoy");
    assert_ne!(status_der(decoy), leaf);
    assert_eq!(
        tlm.status(&serial).await.json()["thumbprint"],
        thumbprint,
        "the real one"
    );
    let feed = send(
        client()
            .get(format!("{}/v1/issuances", sim.url()))
            .query(&[("domain", "collide.example.com")]),
    )
    .await
    .json();
    assert_eq!(
        feed.as_array().map(Vec::len),
        Some(1),
        "the decoy is never logged"
    );

    let csr = json!({"csr": csr_pem(&key, None, &[])});
    let collision = tlm.renew(&serial, None, &csr).await;
    assert_eq!(collision.status, StatusCode::BAD_REQUEST);
    assert_eq!(collision.error_code(), "invalid_input_field");
    assert_eq!(
        collision.error_message(),
        "Collision occurred! Please specify additional parameter: thumbprint_sha256"
    );
    let wrong = tlm.renew(&serial, Some(&"AB".repeat(32)), &csr).await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let renewed = tlm.renew(&serial, Some(&thumbprint.to_lowercase()), &csr).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);

    let collision = tlm.revoke(&serial, None, "superseded").await;
    assert_eq!(collision.status, StatusCode::BAD_REQUEST);
    assert!(collision.error_message().starts_with("Collision occurred!"));
    assert_eq!(
        tlm.revoke(&serial, Some(&thumbprint), "superseded").await.status,
        StatusCode::NO_CONTENT
    );
    let twins = tlm.search_items(&format!("serial_number={serial}")).await;
    assert_eq!(twins.len(), 2);
    for twin in twins {
        let ours = twin["thumbprint"] == thumbprint.as_str();
        let expected = if ours { "revoked" } else { "issued" };
        assert_eq!(twin["status"], expected, "ours: {ours}");
    }
}

#[tokio::test]
async fn certificate_states_set_through_the_admin_api() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let serial = tlm
        .issue_serial("prof-x509", &key_pair(KeyAlg::P256), "admin-state.example.com")
        .await;
    let path = format!("/sim/certificates/{serial}/status");
    for status in ["expired", "suspended", "revoked", "issued"] {
        let reply = admin_post(&sim, &path, Some(&json!({"status": status}))).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{status}: {}", reply.text);
        assert_eq!(tlm.status(&serial).await.json()["status"], status);
    }
    sim.set_certificate_status(&serial, "expired").expect("library");
    assert_eq!(tlm.search("status=EXPIRED").await.json()["total"], 1);
    let bad = admin_post(&sim, &path, Some(&json!({"status": "pending"}))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let unknown = admin_post(
        &sim,
        "/sim/certificates/00AB/status",
        Some(&json!({"status": "expired"})),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(sim.set_certificate_status("00AB", "expired").is_err());
    assert!(sim.set_certificate_status(&serial, "pending").is_err());
}

#[tokio::test]
async fn certificates_expire_with_time() {
    let sim = start_with(|o| o.short_validity = Duration::from_secs(1)).await;
    let tlm = Tlm::new(&sim);
    let serial = tlm
        .issue_serial("prof-short", &key_pair(KeyAlg::P256), "expiring.example.com")
        .await;
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(tlm.status(&serial).await.json()["status"], "expired");
    assert_eq!(tlm.search("status=expired").await.json()["total"], 1);
    let revoke = tlm.revoke(&serial, None, "superseded").await;
    assert_eq!(revoke.status, StatusCode::BAD_REQUEST);
}
