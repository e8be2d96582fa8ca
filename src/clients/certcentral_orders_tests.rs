//! Unit tests of the CertCentral orders client: wire shapes, status mapping, bounded downloads,
//! and retry behaviour against a canned HTTP server on loopback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::clients::certcentral_order_recovery::{OrderMarker, same_pem};

/// Serves `answers` in order (one per connection), recording each request's head and body.
async fn canned(answers: Vec<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for answer in answers {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + length || n == 0 {
                        break;
                    }
                }
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&request).to_string());
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
    });
    (url, seen)
}

fn reply(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
}

fn client(url: &str) -> CertCentralOrdersClient {
    CertCentralOrdersClient::new(CertCentralOrdersConfig {
        base_url: url.to_string(),
        api_key: SecretString::from("super-secret-devkey"),
        http: HttpSettings::default(),
        retry: RetryPolicy::default(),
        throttle: None,
    })
    .unwrap()
}

fn new_order() -> NewOrder {
    NewOrder {
        csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n".into(),
        common_name: "a.example.com".into(),
        dns_names: vec!["b.example.com".into()],
        organization_id: Some(42),
        container_id: None,
        validity: OrderValidity::Years(1),
        cert_validity_days: Some(90),
        comments: None,
        skip_approval: true,
    }
}

#[test]
fn debug_never_shows_the_devkey() {
    let config = CertCentralOrdersConfig {
        base_url: "https://www.digicert.com".into(),
        api_key: SecretString::from("super-secret-devkey"),
        http: HttpSettings::default(),
        retry: RetryPolicy::default(),
        throttle: None,
    };
    assert!(!format!("{config:?}").contains("super-secret"));
    let client = CertCentralOrdersClient::new(config).unwrap();
    assert!(!format!("{client:?}").contains("super-secret"));
}

#[test]
fn order_body_has_the_documented_shape() {
    let order = new_order();
    let body = serde_json::to_value(OrderWire::from(&order)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "certificate": {
                "common_name": "a.example.com",
                "dns_names": ["b.example.com"],
                "csr": order.csr,
                "signature_hash": "sha256",
                "cert_validity": {"days": 90},
            },
            "organization": {"id": 42},
            "order_validity": {"years": 1},
            "skip_approval": true,
        })
    );
}

#[test]
fn statuses_map_to_outcomes() {
    assert_eq!(OrderOutcome::of("issued"), OrderOutcome::Issued);
    assert_eq!(OrderOutcome::of("needs_approval"), OrderOutcome::AwaitingApproval);
    for pending in ["pending", "processing", "waiting_pickup", "reissue_pending"] {
        assert_eq!(
            OrderOutcome::of(pending),
            OrderOutcome::AwaitingValidation,
            "{pending}"
        );
    }
    assert!(OrderOutcome::of("rejected").is_final_failure());
    assert!(OrderOutcome::of("canceled").is_final_failure());
    assert!(OrderOutcome::of("revoked").is_final_failure());
    assert_eq!(OrderOutcome::of("something_new"), OrderOutcome::Unknown);
    assert!(!OrderOutcome::Unknown.is_final_failure());
}

#[test]
fn ids_may_be_numbers_or_strings() {
    let placed: PlacedOrder =
        serde_json::from_str(r#"{"id": 12, "requests": [{"id": "34", "status": "pending"}]}"#).unwrap();
    assert_eq!(placed.order_id, 12);
    assert_eq!(placed.requests[0].id, 34);
    assert!(!placed.issued());
}

#[test]
fn chains_are_bounded_pem_certificates() {
    let block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_eq!(pem_blocks(block.repeat(3).as_bytes()).unwrap().len(), 3);
    assert!(pem_blocks(block.repeat(MAX_CHAIN_CERTIFICATES + 1).as_bytes()).is_err());
    assert!(pem_blocks(b"<html>").is_err());
    let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(pem_blocks(key.as_bytes()).is_err());
}

#[test]
fn markers_match_by_uid_and_csrs_by_content() {
    let marker = OrderMarker {
        cluster: "prod".into(),
        namespace: "web".into(),
        name: "site".into(),
        uid: "1234-abcd".into(),
    };
    assert!(marker.is_in(&marker.note_text()));
    let other = OrderMarker {
        uid: "1234-abc".into(),
        ..marker.clone()
    };
    assert!(!other.is_in(&marker.note_text()));
    assert!(!marker.is_in("someone else's note uid=1234-abcd"));
    let csr = new_order().csr;
    assert!(same_pem(&csr, &csr.replace('\n', "\r\n")));
    assert!(!same_pem(
        &csr,
        "-----BEGIN CERTIFICATE REQUEST-----\nBBBB\n-----END CERTIFICATE REQUEST-----"
    ));
}

#[tokio::test]
async fn an_order_refused_with_429_waits_for_retry_after_and_is_sent_again() {
    let limited = r#"{"errors":[{"code":"request_limit_exceeded","message":"Service unavailable, please limit request volume"}]}"#;
    let (url, seen) = canned(vec![
        reply("429 Too Many Requests", "Retry-After: 1\r\n", limited),
        reply(
            "201 Created",
            "Content-Type: application/json\r\n",
            r#"{"id": 7, "requests": [{"id": 8, "status": "approved"}]}"#,
        ),
    ])
    .await;
    let started = Instant::now();
    let placed = client(&url).order("ssl_basic", &new_order()).await.unwrap();
    assert_eq!(placed.order_id, 7);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].starts_with("POST /services/v2/order/certificate/ssl_basic "));
    assert!(
        seen[0]
            .to_ascii_lowercase()
            .contains("x-dc-devkey: super-secret-devkey")
    );
}

#[tokio::test]
async fn an_order_that_may_have_been_placed_is_not_sent_twice() {
    let (url, seen) = canned(vec![reply("503 Service Unavailable", "", "")]).await;
    let error = client(&url).order("ssl_basic", &new_order()).await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn errors_keep_the_services_code_and_revoke_reads_both_answers() {
    let (url, _) = canned(vec![
        reply(
            "404 Not Found",
            "",
            r#"{"errors":[{"code":"not_found|order","message":"no"}]}"#,
        ),
        reply("204 No Content", "", ""),
        reply(
            "201 Created",
            "",
            r#"{"id": 5, "type": "revoke", "status": "pending"}"#,
        ),
    ])
    .await;
    let client = client(&url);
    let missing = client.order_info(99).await.unwrap_err();
    assert_eq!(missing.class(), crate::clients::error::ErrorClass::NotFound);
    assert_eq!(missing.code(), Some("not_found|order"));
    let revocation = Revocation {
        skip_approval: true,
        ..Revocation::default()
    };
    assert_eq!(
        client.revoke(1, &revocation).await.unwrap(),
        RevokeOutcome::Revoked
    );
    assert_eq!(
        client.revoke(1, &Revocation::default()).await.unwrap(),
        RevokeOutcome::Requested {
            request_id: 5,
            status: "pending".into()
        }
    );
}
