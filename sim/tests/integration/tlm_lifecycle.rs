//! Pending/approve/reject, auto-approval, pickup, search, renew, revoke and order counting.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn pending_request_waits_for_admin_approval() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let body = tlm.issue("prof-pending", &key, "pending.example.com", &[]).await;
    assert_eq!(body["status"], "pending");
    assert!(body.get("certificate").is_none());
    let serial = body["serial_number"].as_str().expect("serial").to_string();

    for _ in 0..3 {
        let status = tlm.status(&serial).await.json();
        assert_eq!(status["status"], "pending", "no auto-approval by default");
        assert!(status.get("certificate").is_none());
    }
    let formats = tlm
        .get(&format!("/mpki/api/v1/certificate/{serial}/additional-formats"))
        .await;
    assert_eq!(formats.status, StatusCode::CONFLICT);
    assert_eq!(formats.error_code(), "invalid_state");

    let approved = admin_post(&sim, &format!("/sim/requests/{serial}/approve"), None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let status = tlm.status(&serial).await.json();
    assert_eq!(status["status"], "issued");
    let leaf = single_cert_der(status["certificate"].as_str().expect("certificate"));
    assert_eq!(parse_cert(&leaf).public_key().raw, spki_der(&key).as_slice());
    let formats = tlm
        .get(&format!("/mpki/api/v1/certificate/{serial}/additional-formats"))
        .await;
    assert_eq!(formats.status, StatusCode::OK);

    let again = admin_post(&sim, &format!("/sim/requests/{serial}/approve"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let unknown = admin_post(&sim, "/sim/requests/00FF/approve", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The library API does the same.
    let second = tlm.issue("prof-pending", &key, "pending2.example.com", &[]).await;
    let second_serial = second["serial_number"].as_str().expect("serial");
    sim.approve(second_serial).expect("approve via library");
    assert_eq!(tlm.status(second_serial).await.json()["status"], "issued");
    assert!(sim.approve(second_serial).is_err(), "already issued");
}

#[tokio::test]
async fn rejected_request_stays_rejected() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::Ed25519);
    let first = tlm.issue("prof-pending", &key, "rejected.example.com", &[]).await;
    let serial = first["serial_number"].as_str().expect("serial");
    let rejected = admin_post(&sim, &format!("/sim/requests/{serial}/reject"), None).await;
    assert_eq!(rejected.status, StatusCode::OK);
    assert_eq!(tlm.status(serial).await.json()["status"], "rejected");
    let renew = tlm
        .post(
            &format!("/mpki/api/v1/certificate/{serial}/renew"),
            &json!({"csr": csr_pem(&key, Some("x"), &[])}),
        )
        .await;
    assert_eq!(renew.status, StatusCode::BAD_REQUEST);

    let second = tlm
        .issue("prof-pending", &key, "rejected2.example.com", &[])
        .await;
    let second_serial = second["serial_number"].as_str().expect("serial");
    sim.reject(second_serial).expect("reject via library");
    assert_eq!(tlm.status(second_serial).await.json()["status"], "rejected");
    assert!(sim.approve(second_serial).is_err());
}

#[tokio::test]
async fn auto_approval_after_n_polls() {
    let sim = start_with(|o| o.auto_approve_after_polls = Some(2)).await;
    let tlm = Tlm::new(&sim);
    let body = tlm
        .issue("prof-pending", &key_pair(KeyAlg::P256), "auto.example.com", &[])
        .await;
    let serial = body["serial_number"].as_str().expect("serial");
    assert_eq!(tlm.status(serial).await.json()["status"], "pending");
    assert_eq!(tlm.status(serial).await.json()["status"], "pending");
    let third = tlm.status(serial).await.json();
    assert_eq!(third["status"], "issued");
    assert!(
        third["certificate"]
            .as_str()
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE"))
    );
    assert_eq!(tlm.status(serial).await.json()["status"], "issued");

    // Immediate profiles are untouched by the poll counter.
    let immediate = tlm
        .issue("prof-x509", &key_pair(KeyAlg::P256), "now.example.com", &[])
        .await;
    assert!(immediate.get("certificate").is_some());
}

#[tokio::test]
async fn pickup_returns_pending_then_the_certificate() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P384);
    let body = tlm.issue("prof-pickup", &key, "pickup.example.com", &[]).await;
    assert_eq!(body["status"], "pending");
    assert!(
        body.get("serial_number").is_none(),
        "pickup profiles hide the serial at submit"
    );
    let request_id = body["request_id"].as_str().expect("request_id");

    let first = tlm
        .post(
            &format!("/mpki/api/v1/certificate-pickup/{request_id}"),
            &json!({}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.json(),
        json!({"status": "pending", "request_id": request_id})
    );

    let second = tlm
        .post(
            &format!("/mpki/api/v1/certificate-pickup/{request_id}"),
            &json!({}),
        )
        .await
        .json();
    assert_eq!(second["status"], "issued");
    let serial = second["serial_number"].as_str().expect("serial").to_string();
    let leaf = single_cert_der(second["certificate"].as_str().expect("certificate"));
    assert_eq!(parse_cert(&leaf).public_key().raw, spki_der(&key).as_slice());

    let third = tlm
        .post(
            &format!("/mpki/api/v1/certificate-pickup/{request_id}"),
            &json!({}),
        )
        .await
        .json();
    assert_eq!(
        third["serial_number"],
        serial.as_str(),
        "later pickups return the same certificate"
    );
    assert_eq!(tlm.status(&serial).await.json()["status"], "issued");

    let unknown = tlm
        .post("/mpki/api/v1/certificate-pickup/req-nope", &json!({}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "not_found");
}

#[tokio::test]
async fn search_filters_and_orders_newest_first() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let a = tlm.issue("prof-x509", &key, "a.search.example", &[]).await;
    let b = tlm.issue("prof-pkcs7", &key, "b.search.example", &[]).await;
    let c = tlm.issue("prof-pending", &key, "c.search.example", &[]).await;
    let d = tlm
        .submit(
            &json!({"profile": {"id": "prof-x509"}, "seat": {"seat_id": "other-seat"},
                         "csr": csr_pem(&key, Some("a.search.example"), &[])}),
        )
        .await
        .json();
    let serial = |v: &serde_json::Value| v["serial_number"].as_str().expect("serial").to_string();
    let items = |reply: Reply| -> (u64, Vec<String>) {
        let body = reply.json();
        let serials = body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| {
                assert!(item.get("certificate").is_none(), "search items carry no PEM");
                item["serial_number"].as_str().expect("serial").to_string()
            })
            .collect();
        (body["total"].as_u64().expect("total"), serials)
    };

    let (total, all) = items(tlm.get("/mpki/api/v1/certificate-search").await);
    assert_eq!(total, 4);
    assert_eq!(
        all,
        vec![serial(&d), serial(&c), serial(&b), serial(&a)],
        "newest first"
    );

    let (_, by_cn) = items(
        tlm.get("/mpki/api/v1/certificate-search?common_name=a.search.example")
            .await,
    );
    assert_eq!(by_cn, vec![serial(&d), serial(&a)]);
    let (_, by_seat) = items(
        tlm.get("/mpki/api/v1/certificate-search?seat_id=other-seat")
            .await,
    );
    assert_eq!(by_seat, vec![serial(&d)]);
    let (_, by_profile) = items(
        tlm.get("/mpki/api/v1/certificate-search?profile_id=prof-pkcs7")
            .await,
    );
    assert_eq!(by_profile, vec![serial(&b)]);
    let (_, by_status) = items(tlm.get("/mpki/api/v1/certificate-search?status=PENDING").await);
    assert_eq!(by_status, vec![serial(&c)]);
    let thumbprint = tlm.status(&serial(&a)).await.json()["thumbprint"]
        .as_str()
        .expect("thumb")
        .to_string();
    let (_, by_thumb) = items(
        tlm.get(&format!(
            "/mpki/api/v1/certificate-search?thumbprint={}",
            thumbprint.to_lowercase()
        ))
        .await,
    );
    assert_eq!(by_thumb, vec![serial(&a)]);
    let (_, by_serial) = items(
        tlm.get(&format!(
            "/mpki/api/v1/certificate-search?serial_number={}",
            serial(&b)
        ))
        .await,
    );
    assert_eq!(by_serial, vec![serial(&b)]);
    let (_, none) = items(
        tlm.get("/mpki/api/v1/certificate-search?common_name=A.SEARCH.EXAMPLE")
            .await,
    );
    assert!(none.is_empty(), "common_name is an exact match");

    let page = tlm
        .get("/mpki/api/v1/certificate-search?offset=1&limit=2")
        .await
        .json();
    assert_eq!(page["total"], 4);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["items"][0]["serial_number"], serial(&c).as_str());

    let (limited_total, limited) = items(
        Tlm::with_key(&sim, Some(LIMITED_KEY))
            .get("/mpki/api/v1/certificate-search")
            .await,
    );
    assert_eq!(limited_total, 2, "a key sees only its profiles' certificates");
    assert_eq!(limited, vec![serial(&d), serial(&a)]);
}

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
        .post(
            &format!("/mpki/api/v1/certificate/{old_serial}/renew"),
            &json!({"csr": csr_pem(&new_key, None, &[]), "validity": {"unit": "days", "duration": 7}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let renewed = reply.json();
    let new_serial = renewed["serial_number"].as_str().expect("serial");
    assert_ne!(new_serial, old_serial);
    let leaf_der = single_cert_der(renewed["certificate"].as_str().expect("certificate"));
    let leaf = parse_cert(&leaf_der);
    assert_eq!(leaf.public_key().raw, spki_der(&new_key).as_slice());
    assert_eq!(
        leaf.subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok()),
        Some("renew.example.com")
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
        "the old certificate stays valid"
    );

    let with_names = tlm
        .post(
            &format!("/mpki/api/v1/certificate/{new_serial}/renew"),
            &json!({"csr": csr_pem(&new_key, None, &[]),
                    "attributes": {"subject": {"common_name": "renamed.example.com"}}}),
        )
        .await;
    assert_eq!(with_names.status, StatusCode::CREATED);
    let renamed = tlm
        .status(with_names.json()["serial_number"].as_str().expect("serial"))
        .await
        .json();
    assert_eq!(renamed["common_name"], "renamed.example.com");

    let bad_csr = tlm
        .post(
            &format!("/mpki/api/v1/certificate/{old_serial}/renew"),
            &json!({"csr": "garbage"}),
        )
        .await;
    assert_eq!(bad_csr.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_csr.error_code(), "invalid_input_field");
    let unknown = tlm
        .post(
            "/mpki/api/v1/certificate/00AA/renew",
            &json!({"csr": csr_pem(&new_key, None, &[])}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let revoke = tlm
        .put(
            &format!("/mpki/api/v1/certificate/{old_serial}/revoke"),
            &json!({}),
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let renew_revoked = tlm
        .post(
            &format!("/mpki/api/v1/certificate/{old_serial}/renew"),
            &json!({"csr": csr_pem(&new_key, None, &[])}),
        )
        .await;
    assert_eq!(renew_revoked.status, StatusCode::BAD_REQUEST);
    assert_eq!(renew_revoked.error_code(), "invalid_input_field");
}

#[tokio::test]
async fn revoke_once_then_refuse() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let body = tlm
        .issue("prof-x509", &key_pair(KeyAlg::P256), "revoke.example.com", &[])
        .await;
    let serial = body["serial_number"].as_str().expect("serial");
    let path = format!("/mpki/api/v1/certificate/{serial}/revoke");
    let first = tlm
        .put(&path, &json!({"revocation_reason": "key_compromise"}))
        .await;
    assert_eq!(first.status, StatusCode::NO_CONTENT);
    assert!(first.text.is_empty());
    let status = tlm.status(serial).await.json();
    assert_eq!(status["status"], "revoked");
    assert_eq!(status["revocation_reason"], "key_compromise");
    let second = tlm
        .put(&path, &json!({"revocation_reason": "key_compromise"}))
        .await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.error_code(), "invalid_input_field");

    let pending = tlm
        .issue("prof-pending", &key_pair(KeyAlg::P256), "p.example.com", &[])
        .await;
    let pending_path = format!(
        "/mpki/api/v1/certificate/{}/revoke",
        pending["serial_number"].as_str().expect("s")
    );
    assert_eq!(
        tlm.put(&pending_path, &json!({})).await.status,
        StatusCode::BAD_REQUEST
    );
    let unknown = tlm
        .put("/mpki/api/v1/certificate/ABCDEF/revoke", &json!({}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn orders_are_counted_by_public_key() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let other = key_pair(KeyAlg::Ed25519);
    let first = tlm.issue("prof-x509", &key, "dup.example.com", &[]).await;
    tlm.issue("prof-pending", &key, "dup.example.com", &[]).await;
    let renew = tlm
        .post(
            &format!(
                "/mpki/api/v1/certificate/{}/renew",
                first["serial_number"].as_str().expect("serial")
            ),
            &json!({"csr": csr_pem(&other, None, &[])}),
        )
        .await;
    assert_eq!(renew.status, StatusCode::CREATED);
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
    assert_eq!(counters.responses.get("submit:400"), Some(&1));
    let last = counters.log.last().expect("log entry");
    assert_eq!(
        (last.endpoint.as_str(), last.method.as_str(), last.status),
        ("submit", "POST", 400)
    );
    assert_eq!(last.path, "/mpki/api/v1/certificate");

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
