//! Certificate search: filters, the envelope, items with certificates, and an order that
//! makes a client page through everything.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn serials(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["serial_number"].as_str().expect("serial").to_string())
        .collect()
}

#[tokio::test]
async fn search_filters_and_items() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let a = tlm.issue_serial("prof-x509", &key, "a.search.example").await;
    let b = tlm.issue_serial("prof-pkcs7", &key, "b.search.example").await;
    tlm.request_id("prof-pending", &key, "c.search.example").await;
    let mut other_seat = minimal_request("prof-x509", &csr_pem(&key, Some("a.search.example"), &[]));
    other_seat["seat"] = json!({"seat_id": "other-seat"});
    let d = tlm.submit(&other_seat).await.json()["serial_number"]
        .as_str()
        .expect("serial")
        .to_string();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    let all = tlm.search("").await.json();
    assert_eq!(all["total"], 3, "the pending request is not a certificate");
    assert_eq!(
        serials(&all),
        sorted(vec![a.clone(), b.clone(), d.clone()]),
        "by serial"
    );
    for item in all["items"].as_array().expect("items") {
        let status = tlm
            .status(item["serial_number"].as_str().expect("serial"))
            .await
            .json();
        assert_eq!(item, &status, "items are status objects, certificate included");
        assert!(!status_der(item).is_empty());
    }

    let cases = [
        (
            "common_name=a.search.example".to_string(),
            sorted(vec![a.clone(), d.clone()]),
        ),
        ("seat_id=other-seat".to_string(), vec![d.clone()]),
        ("profile_id=prof-pkcs7".to_string(), vec![b.clone()]),
        (format!("serial_number={}", b.to_lowercase()), vec![b.clone()]),
        ("common_name=A.SEARCH.EXAMPLE".to_string(), vec![]),
        (
            "status=issued".to_string(),
            sorted(vec![a.clone(), b.clone(), d.clone()]),
        ),
        ("status=REVOKED".to_string(), vec![]),
    ];
    for (query, expected) in cases {
        assert_eq!(serials(&tlm.search(&query).await.json()), expected, "{query}");
    }
    let thumbprint = tlm.status(&a).await.json()["thumbprint"]
        .as_str()
        .expect("thumb")
        .to_lowercase();
    assert_eq!(
        serials(&tlm.search(&format!("thumbprint={thumbprint}")).await.json()),
        vec![a.clone()]
    );

    assert_eq!(
        tlm.revoke(&a, None, "superseded").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        serials(&tlm.search("status=REVOKED").await.json()),
        vec![a.clone()]
    );
    assert_eq!(
        serials(&tlm.search("status=Revoked").await.json()),
        vec![a.clone()]
    );
    for bad in ["status=PENDING", "status=valid", "status="] {
        tlm.search(bad).await.assert_invalid_field("status");
    }

    let limited = Tlm::with_key(&sim, Some(LIMITED_KEY)).search("").await.json();
    assert_eq!(limited["total"], 2, "a key sees only its profiles' certificates");
    assert_eq!(serials(&limited), sorted(vec![a, d]));
}

#[tokio::test]
async fn paging_limits_and_the_envelope() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    for _ in 0..3 {
        tlm.issue_serial("prof-x509", &key, "page.example.com").await;
    }
    let page = tlm.search("offset=1&limit=2").await.json();
    assert_eq!(page["total"], 3);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(tlm.search("").await.json()["limit"], 20, "default limit");
    assert_eq!(tlm.search("limit=500").await.json()["limit"], 100, "clamped");
    tlm.search("offset=-1").await.assert_invalid_field("offset");
}

/// The newest certificate is not guaranteed to be on the first page: the order follows the
/// (random) serial numbers. Issue until the newest lands on a later page, then show that only
/// paging finds it.
#[tokio::test]
async fn a_client_must_page_to_see_the_newest() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let query = |offset: usize| format!("common_name=newest.example.com&limit=5&offset={offset}");
    let mut issued = Vec::new();
    loop {
        issued.push(tlm.issue_serial("prof-x509", &key, "newest.example.com").await);
        if issued.len() <= 5 {
            continue;
        }
        let newest = issued.last().expect("issued").clone();
        let first_page = serials(&tlm.search(&query(0)).await.json());
        if first_page.contains(&newest) {
            assert!(issued.len() < 200, "the newest always sorted onto the first page");
            continue;
        }
        let mut all = Vec::new();
        for offset in (0..issued.len()).step_by(5) {
            let page = tlm.search(&query(offset)).await.json();
            assert_eq!(page["total"], issued.len());
            all.extend(serials(&page));
        }
        assert!(all.contains(&newest), "paging finds the newest");
        let mut expected = issued.clone();
        expected.sort();
        assert_eq!(all, expected, "every certificate once, in serial order");
        break;
    }
}
