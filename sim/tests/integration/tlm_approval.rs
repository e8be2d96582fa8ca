//! Approval and pickup: request ids, PENDING/ISSUED/REJECTED pickups, admin approve/reject,
//! auto-approval after N pickups, and `GET /sim/requests`.

use reqwest::StatusCode;
use serde_json::json;
use tlm_sim::RequestInfo;

use crate::support::*;

#[tokio::test]
async fn a_pending_request_waits_for_admin_approval() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let request_id = tlm.request_id("prof-pending", &key, "pending.example.com").await;

    for _ in 0..3 {
        let pickup = tlm.pickup(&request_id, "prof-pending").await;
        assert_eq!(pickup.status, StatusCode::OK);
        assert_eq!(
            pickup.json(),
            json!({"request_id": request_id, "status": "PENDING"}),
            "no auto-approval by default"
        );
    }
    let approved = admin_post(&sim, &format!("/sim/requests/{request_id}/approve"), None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(approved.json()["status"], "ISSUED");
    let issued = tlm.pickup(&request_id, "prof-pending").await.json();
    assert_eq!(issued["status"], "ISSUED");
    assert_eq!(issued["request_id"], request_id.as_str());
    assert_eq!(issued["delivery_format"], "x509");
    let serial = issued["serial_number"].as_str().expect("serial").to_string();
    assert_eq!(approved.json()["serial_number"], serial.as_str());
    let leaf = single_cert_der(issued["certificate"].as_str().expect("certificate"));
    assert_eq!(parse_cert(&leaf).public_key().raw, spki_der(&key).as_slice());
    assert_eq!(tlm.status(&serial).await.json()["status"], "issued");
    assert_eq!(
        tlm.pickup(&request_id, "prof-pending").await.json(),
        issued,
        "later pickups return the same answer"
    );

    let again = admin_post(&sim, &format!("/sim/requests/{request_id}/approve"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let unknown = admin_post(&sim, "/sim/requests/req-nope/approve", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The library API does the same.
    let second = tlm.request_id("prof-pending", &key, "pending2.example.com").await;
    sim.approve(&second).expect("approve via library");
    assert_eq!(
        tlm.pickup(&second, "prof-pending").await.json()["status"],
        "ISSUED"
    );
    assert!(sim.approve(&second).is_err(), "already issued");
    assert!(sim.approve("req-nope").is_err());
}

#[tokio::test]
async fn a_rejected_request_answers_rejected() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::Ed25519);
    let request_id = tlm.request_id("prof-pending", &key, "rejected.example.com").await;
    let rejected = admin_post(&sim, &format!("/sim/requests/{request_id}/reject"), None).await;
    assert_eq!(rejected.status, StatusCode::OK);
    assert_eq!(rejected.json()["status"], "REJECTED");
    for _ in 0..2 {
        assert_eq!(
            tlm.pickup(&request_id, "prof-pending").await.json(),
            json!({"request_id": request_id, "status": "REJECTED"})
        );
    }
    let again = admin_post(&sim, &format!("/sim/requests/{request_id}/reject"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let second = tlm
        .request_id("prof-pending", &key, "rejected2.example.com")
        .await;
    sim.reject(&second).expect("reject via library");
    assert!(sim.approve(&second).is_err());
    assert!(sim.reject("req-nope").is_err());
    assert_eq!(
        tlm.search("common_name=rejected.example.com").await.json()["total"],
        0
    );
}

#[tokio::test]
async fn auto_approval_counts_pickups() {
    let sim = start_with(|o| o.auto_approve_after_polls = Some(2)).await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let request_id = tlm.request_id("prof-pending", &key, "auto.example.com").await;
    assert_eq!(
        tlm.pickup(&request_id, "prof-pending").await.json()["status"],
        "PENDING"
    );
    assert_eq!(
        tlm.pickup(&request_id, "prof-pending").await.json()["status"],
        "PENDING"
    );
    let third = tlm.pickup(&request_id, "prof-pending").await.json();
    assert_eq!(third["status"], "ISSUED");
    assert!(
        third["certificate"]
            .as_str()
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE"))
    );
    assert_eq!(
        tlm.pickup(&request_id, "prof-pending").await.json()["status"],
        "ISSUED"
    );

    // Status polls of other certificates do not approve anything.
    let other = tlm.request_id("prof-pending", &key, "auto2.example.com").await;
    let serial = third["serial_number"].as_str().expect("serial");
    for _ in 0..5 {
        tlm.status(serial).await;
    }
    let info = sim
        .requests()
        .into_iter()
        .find(|r| r.request_id.as_deref() == Some(other.as_str()))
        .expect("known");
    assert_eq!(info.status, "PENDING");
}

#[tokio::test]
async fn the_pickup_profile_issues_at_the_second_pickup() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P384);
    let mut body = top_level_request(
        "prof-pickup",
        &csr_pem(&key, None, &[]),
        "pickup.example.com",
        &[],
    );
    body["include_ca_chain"] = json!(true);
    let submitted = tlm.submit(&body).await;
    assert_eq!(submitted.status, StatusCode::CREATED);
    let request_id = submitted.json()["request_id"].as_str().expect("id").to_string();

    let first = tlm.pickup(&request_id, "prof-pickup").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.json(),
        json!({"request_id": request_id, "status": "PENDING"})
    );
    let second = tlm.pickup(&request_id, "prof-pickup").await.json();
    assert_eq!(second["status"], "ISSUED");
    let serial = second["serial_number"].as_str().expect("serial").to_string();
    let blocks = pem_blocks(second["certificate"].as_str().expect("certificate"));
    assert_eq!(
        blocks.len(),
        2,
        "include_ca_chain from the submit applies to pickups"
    );
    assert_eq!(
        parse_cert(&blocks[0].1).public_key().raw,
        spki_der(&key).as_slice()
    );
    let third = tlm.pickup(&request_id, "prof-pickup").await.json();
    assert_eq!(third["serial_number"], serial.as_str());
    assert_eq!(tlm.status(&serial).await.json()["status"], "issued");
}

#[tokio::test]
async fn requests_are_listed_with_their_keys_and_serials() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let other = key_pair(KeyAlg::Ed25519);
    let serial = tlm.issue_serial("prof-x509", &key, "list.example.com").await;
    let pending = tlm.request_id("prof-pending", &other, "list.example.com").await;

    let requests = sim.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0],
        RequestInfo {
            request_id: None,
            profile_id: "prof-x509".into(),
            status: "ISSUED".into(),
            serial_number: Some(serial.clone()),
            public_key_sha256: sha256_hex(&spki_der(&key)),
        }
    );
    assert_eq!(
        requests[1],
        RequestInfo {
            request_id: Some(pending.clone()),
            profile_id: "prof-pending".into(),
            status: "PENDING".into(),
            serial_number: None,
            public_key_sha256: sha256_hex(&spki_der(&other)),
        }
    );
    let over_http = send(client().get(format!("{}/sim/requests", sim.url()))).await;
    assert_eq!(over_http.status, StatusCode::OK);
    let listed: Vec<RequestInfo> = serde_json::from_str(&over_http.text).expect("RequestInfo JSON");
    assert_eq!(listed, requests);
    assert!(over_http.json()[1].get("serial_number").is_none());

    sim.approve(&pending).expect("approve");
    let approved = &sim.requests()[1];
    assert_eq!(approved.status, "ISSUED");
    let issued_serial = approved.serial_number.clone().expect("serial once issued");
    assert_eq!(tlm.status(&issued_serial).await.json()["status"], "issued");
}
