//! Profiles (list and by id), hello, and the CA the sim hands out.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn profiles_are_listed_paged_and_filtered_by_key() {
    let sim = start().await;
    let all = Tlm::new(&sim).get("/mpki/api/v2/profile").await;
    assert_eq!(all.status, StatusCode::OK);
    let all = all.json();
    let ids: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "prof-x509",
            "prof-pkcs7",
            "prof-pending",
            "prof-short",
            "prof-cn-required",
            "prof-pickup",
            "prof-disabled",
            "prof-scep",
            "prof-collide"
        ]
    );
    let pkcs7 = &all[1];
    assert_eq!(pkcs7["certificate_delivery_format"], "PKCS7");
    assert_eq!(all[0]["certificate_delivery_format"], "X509");
    assert_eq!(pkcs7["enrollment_method"], "rest_api");
    assert_eq!(pkcs7["status"], "Active");
    assert_eq!(pkcs7["renewal_period_days"], 30);
    assert_eq!(
        pkcs7["certificate"]["validity"],
        json!({"unit": "days", "duration": 365})
    );
    for profile in all.as_array().expect("array") {
        let expected = if profile["id"] == "prof-pending" {
            "manual_approval"
        } else {
            "third_party_app"
        };
        assert_eq!(profile["authentication_method"], expected, "{}", profile["id"]);
        assert!(profile.get("approval_required").is_none());
    }
    assert_eq!(all[3]["override_cert_validity_via_api"], false);
    assert_eq!(all[6]["status"], "Disabled");
    assert_eq!(all[7]["enrollment_method"], "scep");

    let page = Tlm::new(&sim)
        .get("/mpki/api/v2/profile?offset=2&limit=2")
        .await
        .json();
    let ids: Vec<&str> = page
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["prof-pending", "prof-short"]);
    let past_end = Tlm::new(&sim).get("/mpki/api/v2/profile?offset=50").await;
    assert_eq!(past_end.json(), json!([]));
    Tlm::new(&sim)
        .get("/mpki/api/v2/profile?limit=lots")
        .await
        .assert_invalid_field("limit");

    let limited = Tlm::with_key(&sim, Some(LIMITED_KEY))
        .get("/mpki/api/v2/profile")
        .await
        .json();
    assert_eq!(limited.as_array().map(|a| a.len()), Some(1));
    assert_eq!(limited[0]["id"], "prof-x509");
}

#[tokio::test]
async fn one_profile_by_id() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let pending = tlm.get("/mpki/api/v2/profile/prof-pending").await;
    assert_eq!(pending.status, StatusCode::OK);
    let pending = pending.json();
    assert_eq!(pending["id"], "prof-pending");
    assert_eq!(pending["authentication_method"], "manual_approval");
    let listed = tlm.get("/mpki/api/v2/profile").await.json();
    assert_eq!(listed[2], pending, "the same object as in the list");
    let counters = sim.counters();
    assert_eq!(counters.requests.get("profile"), Some(&1));
    assert_eq!(counters.responses.get("profile:200"), Some(&1));
    assert_eq!(counters.requests.get("profiles"), Some(&1));
}

#[tokio::test]
async fn hello_needs_no_auth() {
    let sim = start().await;
    let reply = Tlm::with_key(&sim, None).get("/mpki/api/v1/hello").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text, "hello");
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
}

#[tokio::test]
async fn sim_ca_endpoint_matches_the_library_view() {
    let sim = start().await;
    let ca = send(client().get(format!("{}/sim/ca", sim.url()))).await.json();
    assert_eq!(ca["root_pem"], sim.root_ca_pem());
    assert_eq!(ca["intermediate_pem"], sim.intermediate_pem());
    assert!(ca.get("tls_ca_pem").is_none());
    let root = single_cert_der(sim.root_ca_pem());
    let intermediate = single_cert_der(sim.intermediate_pem());
    parse_cert(&intermediate)
        .verify_signature(Some(parse_cert(&root).public_key()))
        .expect("linked");
}
