//! CertCentral Services API orders: strict order bodies, immediate and pending issuance, admin
//! approval, notes, list filters/sort/paging, download, reissue, revoke and per-key rate limits.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tlm_sim::Sim;

use crate::support::*;

const DEVKEY: &str = "test-devkey";

fn url(sim: &Sim, path: &str) -> String {
    format!("{}/services/v2{path}", sim.url())
}

async fn post(sim: &Sim, path: &str, body: &Value) -> Reply {
    send(
        client()
            .post(url(sim, path))
            .header("X-DC-DEVKEY", DEVKEY)
            .json(body),
    )
    .await
}

async fn get(sim: &Sim, path: &str) -> Reply {
    send(client().get(url(sim, path)).header("X-DC-DEVKEY", DEVKEY)).await
}

fn order_body(csr: &str, cn: &str, sans: &[&str], skip_approval: bool) -> Value {
    json!({
        "certificate": {"common_name": cn, "dns_names": sans, "csr": csr, "signature_hash": "sha256"},
        "organization": {"id": 123456},
        "order_validity": {"years": 1},
        "skip_approval": skip_approval,
    })
}

/// Places an order for a fresh P-256 key; returns the answer and the key.
async fn place(sim: &Sim, cn: &str, skip_approval: bool) -> (Reply, rcgen::KeyPair) {
    let key = key_pair(KeyAlg::P256);
    let csr = csr_pem(&key, Some(cn), &[cn]);
    let reply = post(
        sim,
        "/order/certificate/ssl_basic",
        &order_body(&csr, cn, &[], skip_approval),
    )
    .await;
    (reply, key)
}

fn id(value: &Value) -> u64 {
    value.as_u64().unwrap_or_else(|| panic!("not an id: {value}"))
}

#[tokio::test]
async fn skip_approval_orders_are_issued_at_once_with_a_verifiable_chain() {
    let sim = start().await;
    let (reply, key) = place(&sim, "shop.example.com", true).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let body = reply.json();
    let order_id = id(&body["id"]);
    let certificate_id = id(&body["certificate_id"]);
    let chain: Vec<Vec<u8>> = body["certificate_chain"]
        .as_array()
        .expect("chain")
        .iter()
        .map(|c| single_cert_der(c["pem"].as_str().expect("pem")))
        .collect();
    assert_eq!(chain.len(), 3);
    verify_chain(
        &chain[0],
        &chain[1],
        &chain[2],
        sim.root_ca_pem(),
        &spki_der(&key),
    );

    let info = get(&sim, &format!("/order/certificate/{order_id}")).await.json();
    assert_eq!(info["status"], "issued");
    assert_eq!(id(&info["certificate"]["id"]), certificate_id);
    assert_eq!(info["certificate"]["common_name"], "shop.example.com");
    assert_eq!(info["product"]["name_id"], "ssl_basic");

    let all = get(
        &sim,
        &format!("/certificate/{certificate_id}/download/format/pem_all"),
    )
    .await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        all.header("content-type").as_deref(),
        Some("application/x-pem-file")
    );
    assert_eq!(pem_blocks(&all.text).len(), 3);
    assert_eq!(pem_blocks(&all.text)[0].1, chain[0], "leaf first");
    let no_root = get(
        &sim,
        &format!("/certificate/download/order/{order_id}/format/pem_noroot"),
    )
    .await;
    assert_eq!(pem_blocks(&no_root.text).len(), 2);
    let zip = get(
        &sim,
        &format!("/certificate/{certificate_id}/download/format/default"),
    )
    .await;
    assert_eq!(zip.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn order_bodies_are_checked_strictly() {
    let sim = start().await;
    let key = key_pair(KeyAlg::P256);
    let csr = csr_pem(&key, Some("a.example.com"), &["a.example.com", "b.example.com"]);
    let good = order_body(&csr, "a.example.com", &["b.example.com"], true);

    let no_key = send(
        client()
            .post(url(&sim, "/order/certificate/ssl_basic"))
            .json(&good),
    )
    .await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
    let form = send(
        client()
            .post(url(&sim, "/order/certificate/ssl_basic"))
            .header("X-DC-DEVKEY", DEVKEY)
            .header("content-type", "text/plain")
            .body(good.to_string()),
    )
    .await;
    assert_eq!(form.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown field", json!({"bogus": 1}), "bad_request_format"),
        (
            "no csr",
            json!({"certificate": {"common_name": "a.example.com"}}),
            "bad_request_format",
        ),
        (
            "garbage csr",
            json!({"certificate": {"common_name": "a.example.com", "csr": "hello"}}),
            "csr_invalid_cannot_parse",
        ),
        (
            "name not in csr",
            json!({"certificate": {"common_name": "a.example.com", "dns_names": ["c.example.com"], "csr": csr}}),
            "csr_names_mismatch",
        ),
        (
            "no organization",
            json!({"organization": null}),
            "invalid_organization",
        ),
        ("two validities", json!({"validity_years": 1}), "invalid_validity"),
        (
            "bad hash",
            json!({"certificate": {"common_name": "a.example.com", "csr": csr, "signature_hash": "md5"}}),
            "invalid_signature_hash",
        ),
    ];
    for (what, patch, code) in cases {
        let mut body = good.clone();
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                body.as_object_mut().expect("object").remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let reply = post(&sim, "/order/certificate/ssl_basic", &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {}", reply.text);
        assert_eq!(reply.error_code(), code, "{what}");
    }
    let unknown = post(&sim, "/order/certificate/ssl_nonsense", &good).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "not_found|product");
    let dv = post(
        &sim,
        "/order/certificate/ssl_dv_geotrust",
        &json!({
            "certificate": {"common_name": "a.example.com", "csr": csr},
            "order_validity": {"days": 90},
            "skip_approval": true,
        }),
    )
    .await;
    assert_eq!(
        dv.status,
        StatusCode::CREATED,
        "DV needs no organization: {}",
        dv.text
    );
    let missing = get(&sim, "/order/certificate/999").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "not_found|order");
}

#[tokio::test]
async fn approval_and_validation_wait_until_an_admin_or_the_polls_settle_them() {
    let sim = start_with(|o| {
        o.certcentral_pending_validation = true;
        o.certcentral_issue_after_polls = Some(2);
    })
    .await;
    let (reply, _) = place(&sim, "wait.example.com", false).await;
    let body = reply.json();
    assert!(body.get("certificate_id").is_none());
    assert_eq!(body["requests"][0]["status"], "pending");
    let order_id = id(&body["id"]);
    let info = |sim: &Sim| {
        let path = format!("/order/certificate/{order_id}");
        let sim_url = url(sim, &path);
        async move {
            send(client().get(sim_url).header("X-DC-DEVKEY", DEVKEY))
                .await
                .json()
        }
    };
    for _ in 0..4 {
        assert_eq!(
            info(&sim).await["status"],
            "needs_approval",
            "polls do not approve"
        );
    }
    sim.certcentral_approve(order_id).expect("approve");
    assert_eq!(info(&sim).await["status"], "pending");
    assert_eq!(info(&sim).await["status"], "pending");
    assert_eq!(
        info(&sim).await["status"],
        "issued",
        "third poll after approval issues"
    );

    let (rejected, _) = place(&sim, "no.example.com", true).await;
    let rejected_id = id(&rejected.json()["id"]);
    let via_admin = admin_post(
        &sim,
        &format!("/sim/certcentral/orders/{rejected_id}/reject"),
        None,
    )
    .await;
    assert_eq!(via_admin.status, StatusCode::NO_CONTENT);
    let body = get(&sim, &format!("/order/certificate/{rejected_id}"))
        .await
        .json();
    assert_eq!(body["status"], "rejected");
    let again = admin_post(
        &sim,
        &format!("/sim/certcentral/orders/{rejected_id}/issue"),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let (canceled, _) = place(&sim, "gone.example.com", true).await;
    let canceled_id = id(&canceled.json()["id"]);
    sim.certcentral_settle(canceled_id, true).expect("cancel");
    assert_eq!(
        get(&sim, &format!("/order/certificate/{canceled_id}"))
            .await
            .json()["status"],
        "canceled"
    );
    let none = get(
        &sim,
        &format!("/certificate/download/order/{canceled_id}/format/pem_all"),
    )
    .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn notes_are_kept_and_lists_filter_sort_and_page() {
    let sim = start().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let (reply, _) = place(&sim, "many.example.com", n != 2).await;
        let order_id = id(&reply.json()["id"]);
        let note = post(
            &sim,
            &format!("/order/certificate/{order_id}/note"),
            &json!({"text": format!("note {n}")}),
        )
        .await;
        assert_eq!(note.status, StatusCode::CREATED, "{}", note.text);
        assert_eq!(note.json()["text"], format!("note {n}"));
        ids.push(order_id);
    }
    place(&sim, "other.example.com", true).await;
    let empty = post(
        &sim,
        &format!("/order/certificate/{}/note", ids[0]),
        &json!({"text": ""}),
    )
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let info = get(&sim, &format!("/order/certificate/{}", ids[4])).await.json();
    assert_eq!(info["notes"][0]["text"], "note 4");
    let notes = get(&sim, &format!("/order/certificate/{}/note", ids[4]))
        .await
        .json();
    assert_eq!(notes["notes"][0]["text"], "note 4");

    let page = |query: &str| {
        let path = format!("/order/certificate?{query}");
        let sim = &sim;
        async move { get(sim, &path).await }
    };
    let first = page("filters[common_name]=many.example.com&sort=-date_created&offset=0&limit=2")
        .await
        .json();
    assert_eq!(first["page"]["total"], 5);
    let listed: Vec<u64> = first["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| id(&o["id"]))
        .collect();
    assert_eq!(listed, vec![ids[4], ids[3]], "newest first");
    let last = page("filters[common_name]=many.example.com&sort=-date_created&offset=4&limit=2")
        .await
        .json();
    assert_eq!(last["orders"].as_array().expect("orders").len(), 1);
    assert_eq!(id(&last["orders"][0]["id"]), ids[0]);
    let issued = page("filters[common_name]=many.example.com&filters[status]=issued")
        .await
        .json();
    assert_eq!(issued["page"]["total"], 4);
    let pending = page("filters[common_name]=many.example.com&filters[status]=pending")
        .await
        .json();
    assert_eq!(
        id(&pending["orders"][0]["id"]),
        ids[2],
        "needs_approval lists as pending"
    );
    for bad in [
        "filters[status]=bogus",
        "filters[colour]=red",
        "sort=-price",
        "limit=0",
        "limit=1001",
        "page=2",
        "filters[search]=%25x",
    ] {
        assert_eq!(page(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn reissue_takes_a_new_csr_and_revoke_follows_the_approval_rules() {
    let sim = start().await;
    let (reply, _) = place(&sim, "rekey.example.com", true).await;
    let body = reply.json();
    let order_id = id(&body["id"]);
    let first_certificate = id(&body["certificate_id"]);

    let new_key = key_pair(KeyAlg::Rsa2048);
    let csr = csr_pem(&new_key, Some("rekey.example.com"), &["rekey.example.com"]);
    let mismatched = post(
        &sim,
        &format!("/order/certificate/{order_id}/reissue"),
        &json!({
            "certificate": {"common_name": "other.example.com", "csr": csr}, "skip_approval": true,
        }),
    )
    .await;
    assert_eq!(mismatched.error_code(), "csr_names_mismatch");
    let reissued = post(
        &sim,
        &format!("/order/certificate/{order_id}/reissue"),
        &json!({
            "certificate": {"common_name": "rekey.example.com", "csr": csr, "signature_hash": "sha256"},
            "skip_approval": true,
        }),
    )
    .await;
    assert_eq!(reissued.status, StatusCode::CREATED, "{}", reissued.text);
    let second_certificate = id(&reissued.json()["certificate_id"]);
    assert_ne!(second_certificate, first_certificate);
    let pem = get(
        &sim,
        &format!("/certificate/download/order/{order_id}/format/pem_all"),
    )
    .await
    .text;
    let leaf = pem_blocks(&pem)[0].1.clone();
    assert_eq!(parse_cert(&leaf).public_key().raw, spki_der(&new_key).as_slice());

    let pending = send(
        client()
            .put(url(&sim, &format!("/certificate/{second_certificate}/revoke")))
            .header("X-DC-DEVKEY", DEVKEY)
            .json(&json!({"comments": "key rotated", "revocation_reason": "superseded"})),
    )
    .await;
    assert_eq!(pending.status, StatusCode::CREATED, "{}", pending.text);
    assert_eq!(pending.json()["status"], "pending");
    assert_eq!(
        get(&sim, &format!("/order/certificate/{order_id}")).await.json()["status"],
        "issued"
    );
    sim.certcentral_approve(order_id).expect("approve revocation");
    assert_eq!(
        get(&sim, &format!("/order/certificate/{order_id}")).await.json()["status"],
        "revoked"
    );

    let (other, _) = place(&sim, "drop.example.com", true).await;
    let certificate = id(&other.json()["certificate_id"]);
    let now = send(
        client()
            .put(url(&sim, &format!("/certificate/{certificate}/revoke")))
            .header("X-DC-DEVKEY", DEVKEY)
            .json(&json!({"skip_approval": true})),
    )
    .await;
    assert_eq!(now.status, StatusCode::NO_CONTENT);
    let bad_reason = send(
        client()
            .put(url(&sim, &format!("/certificate/{certificate}/revoke")))
            .header("X-DC-DEVKEY", DEVKEY)
            .json(&json!({"revocation_reason": "bored"})),
    )
    .await;
    assert_eq!(bad_reason.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn each_key_has_rolling_rate_limits_answered_with_the_documented_429() {
    let sim = start_with(|o| {
        o.certcentral_api_keys = vec![DEVKEY.into(), "second-key".into()];
        o.certcentral_rate_limits = vec![(3, Duration::from_millis(800)), (5, Duration::from_secs(60))];
    })
    .await;
    for _ in 0..3 {
        assert_eq!(get(&sim, "/order/certificate").await.status, StatusCode::OK);
    }
    let limited = get(&sim, "/order/certificate").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), "request_limit_exceeded");
    assert_eq!(
        limited.error_message(),
        "Service unavailable, please limit request volume"
    );
    assert!(
        limited.header("retry-after").is_none(),
        "the rate-limit page promises none"
    );
    let other = send(
        client()
            .get(url(&sim, "/order/certificate"))
            .header("X-DC-DEVKEY", "second-key"),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK, "limits are per key");
    tokio::time::sleep(Duration::from_millis(850)).await;
    assert_eq!(get(&sim, "/order/certificate").await.status, StatusCode::OK);
    assert_eq!(get(&sim, "/order/certificate").await.status, StatusCode::OK);
    assert_eq!(
        get(&sim, "/order/certificate").await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "long window full"
    );
    let counters = sim.counters();
    assert_eq!(counters.responses.get("cc_orders:429"), Some(&2));
}
