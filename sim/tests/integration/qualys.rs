//! Qualys CertView: JWT auth, strict enrollment requests, status progression, cancellation,
//! the certificate download, and faults on the Qualys endpoints.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tlm_sim::{FaultRule, Sim};

use crate::support::*;

const ORDERS: &str = "/certview/rest/public/v1/certificates/enrollment/digicert/orders";

async fn token(sim: &Sim) -> String {
    let reply = auth(
        sim,
        "username=test-qualys-user&password=test-qualys-password&token=true",
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.text
}

async fn auth(sim: &Sim, form: &str) -> Reply {
    send(
        client()
            .post(format!("{}/auth", sim.url()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_string()),
    )
    .await
}

fn request(csr: &str, names: &[&str]) -> Value {
    json!({
        "approverUserNames": ["doe_john"],
        "intermediateCA": {"commonName": "tlm-sim Issuing CA"},
        "certificate": {
            "commonName": names[0],
            "csr": {"autoGenerateCSR": false, "encodedCSR": csr},
            "signatureHash": "SHA-256",
            "dnsNames": names,
        },
        "validity": {"validityDays": 30},
        "digicertOrganizationId": 525858,
        "digicertProductNameId": "ssl_plus",
    })
}

async fn create(sim: &Sim, jwt: &str, body: &Value) -> Reply {
    send(
        client()
            .post(format!("{}{ORDERS}", sim.url()))
            .bearer_auth(jwt)
            .json(body),
    )
    .await
}

async fn view(sim: &Sim, jwt: &str, uuid: &str) -> Reply {
    send(
        client()
            .get(format!("{}{ORDERS}/{uuid}", sim.url()))
            .bearer_auth(jwt),
    )
    .await
}

async fn set_status(sim: &Sim, jwt: &str, uuid: &str, status: &str) -> Reply {
    let body = json!({"status": status, "comment": "by the test"});
    send(
        client()
            .put(format!("{}{ORDERS}/{uuid}/status", sim.url()))
            .bearer_auth(jwt)
            .json(&body),
    )
    .await
}

fn code(reply: &Reply) -> String {
    reply.json()["code"].as_str().unwrap_or_default().to_string()
}

fn fresh_csr(names: &[&str]) -> (rcgen::KeyPair, String) {
    let key = key_pair(KeyAlg::P256);
    let csr = csr_pem(&key, Some(names[0]), names);
    (key, csr)
}

#[tokio::test]
async fn auth_takes_a_form_and_answers_a_jwt_with_exp() {
    let sim = start().await;
    let jwt = token(&sim).await;
    let claims = jwt.split('.').nth(1).expect("three parts");
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .expect("base64url"),
    )
    .expect("json claims");
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 4 * 3600);
    let wrong = auth(&sim, "username=test-qualys-user&password=nope&token=true").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let no_token = auth(&sim, "username=test-qualys-user&password=test-qualys-password").await;
    assert_eq!(no_token.status, StatusCode::BAD_REQUEST);
    let json_body = send(
        client()
            .post(format!("{}/auth", sim.url()))
            .json(&json!({"username": "test-qualys-user", "password": "test-qualys-password"})),
    )
    .await;
    assert_eq!(json_body.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn bearer_tokens_are_checked_and_expire() {
    let sim = start_with(|o| o.qualys.token_lifetime = Duration::from_secs(1)).await;
    let anonymous = send(client().get(format!("{}{ORDERS}/x", sim.url()))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let bogus = view(&sim, "a.b.c", "x").await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    let jwt = token(&sim).await;
    assert_eq!(view(&sim, &jwt, "nope").await.status, StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = view(&sim, &jwt, "nope").await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.text.contains("expired"), "{}", expired.text);
}

/// Turns a good request into a bad one.
type Change = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn create_is_strict() {
    let sim = start().await;
    let jwt = token(&sim).await;
    let (_, csr) = fresh_csr(&["a.example.com", "b.example.com"]);
    let good = request(&csr, &["a.example.com", "b.example.com"]);
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "no approvers",
            Box::new(|b| b["approverUserNames"] = Value::Null),
            "1903",
        ),
        (
            "unknown approver",
            Box::new(|b| b["approverUserNames"] = json!(["mallory"])),
            "1905",
        ),
        ("no validity", Box::new(|b| b["validity"] = json!({})), "1903"),
        (
            "two validities",
            Box::new(|b| b["validity"]["validityYears"] = json!(1)),
            "1904",
        ),
        (
            "auto CSR with CSR",
            Box::new(|b| b["certificate"]["csr"]["autoGenerateCSR"] = json!(true)),
            "1907",
        ),
        (
            "auto CSR",
            Box::new(|b| b["certificate"]["csr"] = json!({"autoGenerateCSR": true})),
            "1905",
        ),
        (
            "no CSR",
            Box::new(|b| b["certificate"]["csr"] = json!({})),
            "1903",
        ),
        (
            "garbage CSR",
            Box::new(|b| b["certificate"]["csr"]["encodedCSR"] = json!("AAAA")),
            "1905",
        ),
        (
            "name not in CSR",
            Box::new(|b| b["certificate"]["dnsNames"] = json!(["a.example.com", "c.example.com"])),
            "1905",
        ),
        (
            "CSR name not requested",
            Box::new(|b| b["certificate"]["dnsNames"] = json!(["a.example.com"])),
            "1905",
        ),
        ("unknown field", Box::new(|b| b["comments"] = json!("hi")), "1905"),
        (
            "other CA",
            Box::new(|b| b["intermediateCA"] = json!({"commonName": "DigiCert Other CA"})),
            "140004",
        ),
        ("no CA", Box::new(|b| b["intermediateCA"] = json!({})), "1903"),
        (
            "other organization",
            Box::new(|b| b["digicertOrganizationId"] = json!(1)),
            "1905",
        ),
        (
            "bad hash",
            Box::new(|b| b["certificate"]["signatureHash"] = json!("SHA-1")),
            "1905",
        ),
        (
            "EV without approvers",
            Box::new(|b| b["digicertProductNameId"] = json!("ssl_ev_plus")),
            "1903",
        ),
        (
            "wildcard product",
            Box::new(|b| b["digicertProductNameId"] = json!("ssl_wildcard")),
            "1905",
        ),
        (
            "past date",
            Box::new(|b| b["validity"] = json!({"customExpirationDate": "2001-01-01"})),
            "1905",
        ),
        (
            "renewal of nothing",
            Box::new(|b| b["renewal"] = json!({"digicertPreviousOrderId": 7, "renewalOfCertificate": "00"})),
            "140006",
        ),
    ];
    for (what, change, expected) in cases {
        let mut body = good.clone();
        change(&mut body);
        let reply = create(&sim, &jwt, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {}", reply.text);
        assert_eq!(code(&reply), expected, "{what}: {}", reply.text);
    }
    let malformed = send(
        client()
            .post(format!("{}{ORDERS}", sim.url()))
            .bearer_auth(&jwt)
            .body("{not json"),
    )
    .await;
    assert_eq!(code(&malformed), "140001");
    assert!(sim.qualys_orders().is_empty(), "nothing refused was stored");
    assert_eq!(create(&sim, &jwt, &good).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn immediate_issuance_then_view_and_download() {
    let sim = start().await;
    let jwt = token(&sim).await;
    let (key, csr) = fresh_csr(&["www.example.com"]);
    let mut body = request(&csr, &["www.example.com"]);
    body["validity"] = json!({"customExpirationDate": "2099-01-01"});
    let created = create(&sim, &jwt, &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let uuid = created.json()["uuid"].as_str().expect("uuid").to_string();
    let viewed = view(&sim, &jwt, &uuid).await.json();
    assert_eq!(viewed["status"], "ISSUED");
    assert_eq!(viewed["caStatus"], "issued");
    assert_eq!(viewed["certificate"]["commonName"], "www.example.com");
    assert_eq!(viewed["certificate"]["privateKey"], Value::Null);
    assert_eq!(viewed["digicertOrganization"]["id"], 525858);
    assert_eq!(viewed["validity"]["validityDays"], Value::Null);
    assert_eq!(viewed["intermediateCA"]["name"], "tlm-sim Issuing CA");
    assert_eq!(
        viewed["intermediateCA"]["certhash"].as_str().map(str::len),
        Some(64)
    );
    assert!(viewed["created"].as_str().unwrap().ends_with("+0000"));

    let download = send(
        client()
            .get(format!("{}{ORDERS}/{uuid}/certificate", sim.url()))
            .bearer_auth(&jwt),
    )
    .await;
    assert_eq!(download.status, StatusCode::OK);
    let blocks = pem_blocks(&download.text);
    assert_eq!(blocks.len(), 3, "leaf, issuing CA, root");
    let (_, leaf) = x509_parser::prelude::X509Certificate::from_der(&blocks[0].1).expect("leaf");
    use x509_parser::prelude::FromDer;
    assert_eq!(leaf.public_key().raw, spki_der(&key).as_slice());
    let not_after = leaf.validity().not_after.timestamp();
    assert!(
        not_after < time::OffsetDateTime::now_utc().unix_timestamp() + 398 * 86400,
        "capped at 397 days"
    );
    assert_eq!(blocks[1].1, pem_blocks(sim.intermediate_pem())[0].1);
    assert_eq!(
        sim.counters().orders_by_public_key[&sha256_hex(&spki_der(&key))],
        1
    );
}

#[tokio::test]
async fn manual_approval_progresses_through_statuses() {
    let sim = start_with(|o| {
        o.qualys.manual_approval = true;
        o.qualys.manual_issuance = true;
    })
    .await;
    let jwt = token(&sim).await;
    let (_, csr) = fresh_csr(&["slow.example.com"]);
    let uuid = create(&sim, &jwt, &request(&csr, &["slow.example.com"]))
        .await
        .json()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let status = |v: Value| {
        (
            v["status"].as_str().unwrap().to_string(),
            v["caStatus"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        status(view(&sim, &jwt, &uuid).await.json()),
        ("SUBMITTED".into(), "".into())
    );
    let early = send(
        client()
            .get(format!("{}{ORDERS}/{uuid}/certificate", sim.url()))
            .bearer_auth(&jwt),
    )
    .await;
    assert_eq!(early.status, StatusCode::BAD_REQUEST);
    let approved = admin_post(&sim, &format!("/sim/qualys/orders/{uuid}/approve"), None).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(
        status(view(&sim, &jwt, &uuid).await.json()),
        ("APPROVED".into(), "pending".into())
    );
    let late_cancel = set_status(&sim, &jwt, &uuid, "CANCELLED").await;
    assert_eq!(
        late_cancel.status,
        StatusCode::BAD_REQUEST,
        "approved requests cannot be cancelled"
    );
    sim.qualys_act(&uuid, "issue").expect("issue");
    assert_eq!(
        status(view(&sim, &jwt, &uuid).await.json()),
        ("ISSUED".into(), "issued".into())
    );

    // Cancel and the CA's rejection.
    let (_, csr) = fresh_csr(&["gone.example.com"]);
    let second = create(&sim, &jwt, &request(&csr, &["gone.example.com"]))
        .await
        .json()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let no_comment = send(
        client()
            .put(format!("{}{ORDERS}/{second}/status", sim.url()))
            .bearer_auth(&jwt)
            .json(&json!({"status": "CANCELLED"})),
    )
    .await;
    assert_eq!(code(&no_comment), "1903");
    assert_eq!(
        set_status(&sim, &jwt, &second, "CANCELLED").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(status(view(&sim, &jwt, &second).await.json()).0, "CANCELLED");
    assert_eq!(
        set_status(&sim, &jwt, &second, "BOGUS").await.status,
        StatusCode::BAD_REQUEST
    );
    let (_, csr) = fresh_csr(&["refused.example.com"]);
    let third = create(&sim, &jwt, &request(&csr, &["refused.example.com"]))
        .await
        .json()["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    sim.qualys_act(&third, "approve").expect("approve");
    sim.qualys_act(&third, "reject").expect("CA rejects");
    assert_eq!(
        status(view(&sim, &jwt, &third).await.json()),
        ("APPROVED".into(), "rejected".into())
    );
    let listed = sim.qualys_orders();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[1]["status"], "CANCELLED");
}

#[tokio::test]
async fn faults_apply_to_qualys_endpoints() {
    let sim = start().await;
    let jwt = token(&sim).await;
    sim.set_faults(vec![FaultRule {
        endpoint: "qualys_view".into(),
        throttle_rate: 1.0,
        retry_after_seconds: 2,
        count: Some(1),
        ..FaultRule::default()
    }])
    .expect("faults");
    let throttled = view(&sim, &jwt, "any").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.header("retry-after").as_deref(), Some("2"));
    assert_eq!(code(&throttled), "429");
    sim.clear_faults();
    sim.set_faults(vec![FaultRule {
        endpoint: "qualys_auth".into(),
        error_rate: 1.0,
        error_statuses: vec![503],
        ..FaultRule::default()
    }])
    .expect("faults");
    let down = auth(
        &sim,
        "username=test-qualys-user&password=test-qualys-password&token=true",
    )
    .await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sim.counters().requests["qualys_auth"], 2);
}
