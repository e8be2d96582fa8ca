//! Renewal: inside the renewal period only, same names/profile/seat, 200, and the states that
//! cannot be renewed.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn renew_issues_a_new_certificate_for_the_same_names() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let old_key = key_pair(KeyAlg::P256);
    let old = tlm
        .issue(
            "prof-x509",
            &old_key,
            "renew.example.com",
            &["renew.example.com", "alt.example.com"],
        )
        .await;
    let old_serial = old["serial_number"].as_str().expect("serial");

    let new_key = key_pair(KeyAlg::Rsa2048);
    let reply = tlm
        .renew(
            old_serial,
            None,
            &json!({"csr": csr_pem(&new_key, Some("ignored.example.com"), &[]),
                    "validity": {"unit": "days", "duration": 7},
                    "delivery_format": "x509", "include_ca_chain": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let renewed = reply.json();
    let mut keys: Vec<&String> = renewed.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["certificate", "delivery_format", "serial_number"]);
    let new_serial = renewed["serial_number"].as_str().expect("serial");
    assert_ne!(new_serial, old_serial);
    let blocks = pem_blocks(renewed["certificate"].as_str().expect("certificate"));
    assert_eq!(blocks.len(), 2, "include_ca_chain");
    let leaf = parse_cert(&blocks[0].1);
    assert_eq!(leaf.public_key().raw, spki_der(&new_key).as_slice());
    assert_eq!(
        leaf.subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok()),
        Some("renew.example.com"),
        "the old subject, not the CSR's"
    );
    let status = tlm.status(new_serial).await.json();
    assert_eq!(status["renewal_of"], old_serial);
    assert_eq!(status["profile"]["id"], "prof-x509");
    assert_eq!(status["seat"]["seat_id"], "seat@example.com");
    assert_eq!(
        status["san"]["dns_names"],
        json!(["renew.example.com", "alt.example.com"])
    );
    assert_eq!(status["key_size"], 2048);
    assert_eq!(
        tlm.status(old_serial).await.json()["status"],
        "issued",
        "the old one stays valid"
    );

    let bad_csr = tlm.renew(old_serial, None, &json!({"csr": "garbage!"})).await;
    bad_csr.assert_invalid_field("csr");
}

#[tokio::test]
async fn renewal_only_inside_the_renewal_period() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let mut body = minimal_request("prof-x509", &csr_pem(&key, Some("period.example.com"), &[]));
    body["validity"] = json!({"unit": "days", "duration": 60});
    let serial = tlm.submit(&body).await.json()["serial_number"]
        .as_str()
        .expect("serial")
        .to_string();
    let csr = json!({"csr": csr_pem(&key, None, &[])});
    let early = tlm.renew(&serial, None, &csr).await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST);
    assert_eq!(early.error_code(), "invalid_input_field");
    assert_eq!(
        early.error_message(),
        "certificate is not within the renewal period"
    );

    // 30 days left: exactly at the start of the 30-day renewal period.
    body["validity"] = json!({"unit": "days", "duration": 30});
    let inside = tlm.submit(&body).await.json()["serial_number"]
        .as_str()
        .expect("serial")
        .to_string();
    assert_eq!(tlm.renew(&inside, None, &csr).await.status, StatusCode::OK);
    // The short profile may not override validity, and renews with its own.
    let short = tlm.issue_serial("prof-short", &key, "short.example.com").await;
    tlm.renew(
        &short,
        None,
        &json!({"csr": csr["csr"], "validity": {"unit": "days", "duration": 1}}),
    )
    .await
    .assert_invalid_field("validity");
    assert_eq!(tlm.renew(&short, None, &csr).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revoked_suspended_expired_and_approval_certificates_are_not_renewed() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let csr = json!({"csr": csr_pem(&key, None, &[])});
    for (how, expected) in [
        ("revoke", "revoked"),
        ("hold", "suspended"),
        ("expire", "expired"),
    ] {
        let serial = tlm.issue_serial("prof-x509", &key, "norenew.example.com").await;
        match how {
            "revoke" => assert_eq!(
                tlm.revoke(&serial, None, "superseded").await.status,
                StatusCode::NO_CONTENT
            ),
            "hold" => assert_eq!(
                tlm.revoke(&serial, None, "certificate_hold").await.status,
                StatusCode::NO_CONTENT
            ),
            _ => sim.set_certificate_status(&serial, "expired").expect("expire"),
        }
        assert_eq!(tlm.status(&serial).await.json()["status"], expected);
        let refused = tlm.renew(&serial, None, &csr).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{how}: {}", refused.text);
        assert_eq!(refused.error_code(), "invalid_input_field");
    }
    let request_id = tlm.request_id("prof-pending", &key, "approval.example.com").await;
    let serial = admin_post(&sim, &format!("/sim/requests/{request_id}/approve"), None)
        .await
        .json()["serial_number"]
        .as_str()
        .expect("serial")
        .to_string();
    let refused = tlm.renew(&serial, None, &csr).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
}

#[tokio::test]
async fn a_pickup_profile_certificate_renews_at_once() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let request_id = tlm
        .request_id("prof-pickup", &key, "pickup-renew.example.com")
        .await;
    tlm.pickup(&request_id, "prof-pickup").await;
    let issued = tlm.pickup(&request_id, "prof-pickup").await.json();
    let serial = issued["serial_number"].as_str().expect("serial");
    let renewed = tlm
        .renew(serial, None, &json!({"csr": csr_pem(&key, None, &[])}))
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    assert!(
        renewed.json()["certificate"]
            .as_str()
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE"))
    );
}

#[tokio::test]
async fn orders_are_counted_by_public_key() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let other = key_pair(KeyAlg::Ed25519);
    let first = tlm.issue_serial("prof-x509", &key, "dup.example.com").await;
    tlm.request_id("prof-pending", &key, "dup.example.com").await;
    let renew = tlm
        .renew(&first, None, &json!({"csr": csr_pem(&other, None, &[])}))
        .await;
    assert_eq!(renew.status, StatusCode::OK);
    // A refused submit is not an order.
    let refused = tlm
        .submit(&top_level_request(
            "prof-disabled",
            &csr_pem(&key, Some("x"), &[]),
            "x",
            &[],
        ))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    let counters = sim.counters();
    assert_eq!(
        counters.orders_by_public_key.get(&sha256_hex(&spki_der(&key))),
        Some(&2)
    );
    assert_eq!(
        counters.orders_by_public_key.get(&sha256_hex(&spki_der(&other))),
        Some(&1)
    );
    assert_eq!(counters.orders_by_public_key.len(), 2);
    assert_eq!(counters.requests.get("submit"), Some(&3));
    assert_eq!(counters.requests.get("renew"), Some(&1));
    assert_eq!(counters.responses.get("submit:201"), Some(&2));
    assert_eq!(counters.responses.get("renew:200"), Some(&1));
    assert_eq!(counters.responses.get("submit:400"), Some(&1));
    let last = counters.log.last().expect("log entry");
    assert_eq!(
        (last.endpoint.as_str(), last.method.as_str(), last.status),
        ("submit", "POST", 400)
    );
    assert_eq!(last.path, "/mpki/api/v1/certificate");
    assert_eq!(sim.requests().len(), 3, "submit, pending submit, renew");

    let over_http = send(client().get(format!("{}/sim/counters", sim.url())))
        .await
        .json();
    assert_eq!(over_http["requests"]["submit"], 3);
    assert_eq!(over_http["early_requests"], 0);
    let reset = admin_post(&sim, "/sim/counters/reset", None).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    let after = sim.counters();
    assert!(after.requests.is_empty() && after.log.is_empty() && after.orders_by_public_key.is_empty());
}
