//! The published spec's shapes, strictly: what the tutorial (and the old sim) accepted and the
//! spec does not is refused, and pending requests never show up as certificates.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

fn keys(body: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn the_tutorials_nested_submit_body_is_refused() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let csr = csr_pem(&key, None, &["nested.example.com"]);
    let reply = tlm
        .submit(&nested_request("prof-x509", &csr, "nested.example.com"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(reply.error_code(), "invalid_input_field");
    let field = reply.error_field().expect("field");
    assert!(
        ["profile.attributes", "profile.csr", "profile.seat"].contains(&field.as_str()),
        "{field}"
    );
    // `seat.id` is the tutorial's spelling of `seat.seat_id`.
    let mut body = minimal_request("prof-x509", &csr);
    body["seat"] = json!({"id": "s"});
    tlm.submit(&body).await.assert_invalid_field("seat.id");
    assert!(
        sim.counters().orders_by_public_key.is_empty(),
        "nothing was ordered"
    );
}

#[tokio::test]
async fn subject_and_san_fields_have_the_spec_types() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let csr = csr_pem(&key_pair(KeyAlg::P256), Some("types.example.com"), &[]);
    let with_attributes = |attributes: Value| {
        let mut body = minimal_request("prof-x509", &csr);
        body["attributes"] = attributes;
        body
    };
    let cases = [
        (
            json!({"subject": {"organization_units": "Ops"}}),
            "attributes.subject.organization_units",
        ),
        (
            json!({"subject": {"street_address": "1 Main St"}}),
            "attributes.subject.street_address",
        ),
        (
            json!({"subject": {"domain_component": "example"}}),
            "attributes.subject.domain_component",
        ),
        (
            json!({"subject": {"country": ["US"]}}),
            "attributes.subject.country",
        ),
        (
            json!({"subject": {"postal_code": 84123}}),
            "attributes.subject.postal_code",
        ),
        (
            json!({"subject": {"organization_unit": ["Ops"]}}),
            "attributes.subject.organization_unit",
        ),
        (
            json!({"extensions": {"san": {"dns_names": "a.example.com"}}}),
            "attributes.extensions.san.dns_names",
        ),
        (
            json!({"extensions": {"san": {"email_addresses": ["a@example.com"]}}}),
            "attributes.extensions.san.email_addresses",
        ),
        (
            json!({"extensions": {"san": {"other_names": []}}}),
            "attributes.extensions.san.other_names",
        ),
        (
            json!({"extensions": {"key_usage": {}}}),
            "attributes.extensions.key_usage",
        ),
        (json!({"custom_values": {"x": 1}}), "attributes.custom_values.x"),
        (json!({"subjects": {}}), "attributes.subjects"),
    ];
    for (attributes, field) in cases {
        tlm.submit(&with_attributes(attributes))
            .await
            .assert_invalid_field(field);
    }
    let fine = tlm
        .submit(&with_attributes(json!({
            "subject": {"common_name": "types.example.com", "organization_units": ["Ops"]},
            "extensions": {"san": {"dns_names": ["types.example.com"], "other_names": {"guid": []}}},
            "custom_values": {"placeholder": "value"}
        })))
        .await;
    assert_eq!(fine.status, StatusCode::CREATED, "{}", fine.text);
}

#[tokio::test]
async fn top_level_fields_are_checked_strictly() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let csr = csr_pem(&key, Some("strict.example.com"), &[]);
    let with = |key: &str, value: Value| {
        let mut body = minimal_request("prof-x509", &csr);
        body[key] = value;
        body
    };
    let refused = [
        ("include_ca_chain", json!("true"), "include_ca_chain"),
        ("delivery_format", json!("pkcs7"), "delivery_format"),
        ("delivery_format", json!("X509"), "delivery_format"),
        ("tags", json!("a"), "tags"),
        ("notes", json!("hello"), "notes"),
        (
            "validity",
            json!({"unit": "days", "duration": 0}),
            "validity.duration",
        ),
        (
            "validity",
            json!({"unit": "days", "duration": 1.5}),
            "validity.duration",
        ),
        (
            "validity",
            json!({"unit": "Days", "duration": 1}),
            "validity.unit",
        ),
        (
            "validity",
            json!({"unit": "days", "duration": 1, "from": "now"}),
            "validity.from",
        ),
        ("profile", json!({"id": "prof-x509", "name": "x"}), "profile.name"),
    ];
    for (key, value, field) in refused {
        tlm.submit(&with(key, value)).await.assert_invalid_field(field);
    }
    for (key, value) in [
        ("include_ca_chain", json!(false)),
        ("delivery_format", json!("x509")),
        ("delivery_format", json!("PKCS7")),
        ("tags", json!(["a", "b"])),
        ("tags", Value::Null),
        ("validity", json!({"unit": "hours", "duration": 2})),
    ] {
        let reply = tlm.submit(&with(key, value.clone())).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{key}={value}: {}", reply.text);
    }
    // Where the profile does not allow overriding the validity, asking for one is refused.
    let mut short = minimal_request("prof-short", &csr);
    short["validity"] = json!({"unit": "days", "duration": 1});
    tlm.submit(&short).await.assert_invalid_field("validity");
}

#[tokio::test]
async fn a_bare_base64_csr_is_accepted() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::Ed25519);
    let der = pem_blocks(&csr_pem(&key, Some("bare.example.com"), &[]))
        .remove(0)
        .1;
    let reply = tlm
        .submit(&minimal_request("prof-x509", &STANDARD.encode(der)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let leaf = single_cert_der(reply.json()["certificate"].as_str().expect("certificate"));
    assert_eq!(parse_cert(&leaf).public_key().raw, spki_der(&key).as_slice());
}

#[tokio::test]
async fn submit_answers_have_exactly_the_spec_fields() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let immediate = tlm.issue("prof-x509", &key, "shape.example.com", &[]).await;
    assert_eq!(
        keys(&immediate),
        ["certificate", "delivery_format", "serial_number"]
    );
    for profile in ["prof-pending", "prof-pickup"] {
        let pending = tlm.issue(profile, &key, "shape.example.com", &[]).await;
        assert_eq!(keys(&pending), ["request_id", "status"], "{profile}");
        assert_eq!(pending["status"], "PENDING");
    }
}

#[tokio::test]
async fn pickup_needs_the_profile_body() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let request_id = tlm
        .request_id("prof-pickup", &key_pair(KeyAlg::P256), "body.example.com")
        .await;
    let path = format!("/mpki/api/v1/certificate-pickup/{request_id}");
    let no_body = send(tlm.client.post(tlm.url(&path)).header("x-api-key", KEY)).await;
    assert_eq!(no_body.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_body.error_code(), "invalid_request");
    let not_json = tlm.post_raw(&path, "profile=prof-pickup").await;
    assert_eq!(not_json.error_code(), "invalid_request");
    tlm.post(&path, &json!({})).await.assert_invalid_field("profile");
    tlm.post(&path, &json!({"profile": {}}))
        .await
        .assert_invalid_field("profile.id");
    tlm.pickup(&request_id, "prof-pending")
        .await
        .assert_invalid_field("profile.id");
    tlm.post(&path, &json!({"profile": {"id": "prof-pickup"}, "x": 1}))
        .await
        .assert_invalid_field("x");
    // None of those counted as a pickup: the first real one is still pending.
    assert_eq!(
        tlm.pickup(&request_id, "prof-pickup").await.json()["status"],
        "PENDING"
    );
    assert_eq!(
        tlm.pickup(&request_id, "prof-pickup").await.json()["status"],
        "ISSUED"
    );
}

#[tokio::test]
async fn renew_takes_no_names_or_profile() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let serial = tlm
        .issue_serial("prof-x509", &key, "renew-shape.example.com")
        .await;
    let csr = csr_pem(&key, None, &[]);
    for (extra, value) in [
        (
            "attributes",
            json!({"subject": {"common_name": "renamed.example.com"}}),
        ),
        ("profile", json!({"id": "prof-x509"})),
        ("seat", json!({"seat_id": "s"})),
    ] {
        let mut body = json!({"csr": csr});
        body[extra] = value;
        tlm.renew(&serial, None, &body).await.assert_invalid_field(extra);
    }
    tlm.renew(&serial, None, &json!({"csr": csr, "include_ca_chain": "yes"}))
        .await
        .assert_invalid_field("include_ca_chain");
    tlm.renew(&serial, None, &json!({}))
        .await
        .assert_invalid_field("csr");
    let ok = tlm.renew(&serial, None, &json!({"csr": csr})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn pending_requests_are_never_certificates() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let pending = tlm.request_id("prof-pending", &key, "never.example.com").await;
    let picked = tlm.request_id("prof-pickup", &key, "never.example.com").await;
    let rejected = tlm.request_id("prof-pending", &key, "never.example.com").await;
    sim.reject(&rejected).expect("reject");
    assert_eq!(
        tlm.pickup(&picked, "prof-pickup").await.json()["status"],
        "PENDING"
    );

    let requests = sim.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.serial_number.is_none()), "{requests:?}");
    let found = tlm.search("common_name=never.example.com").await.json();
    assert_eq!(found["total"], 0, "{found}");
    assert_eq!(found["items"], json!([]));
    let status_filter = tlm.search("status=PENDING").await;
    status_filter.assert_invalid_field("status");
    tlm.search("status=rejected").await.assert_invalid_field("status");

    sim.approve(&pending).expect("approve");
    let issued = tlm.pickup(&pending, "prof-pending").await.json();
    let serial = issued["serial_number"].as_str().expect("serial once issued");
    let status = tlm.status(serial).await.json();
    assert_eq!(status["status"], "issued");
    let found = tlm.search("common_name=never.example.com").await.json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["serial_number"], serial);
}
