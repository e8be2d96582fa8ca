//! Issuance through every key type, both request shapes and both delivery formats.

use reqwest::StatusCode;
use serde_json::{Value, json};
use x509_parser::extensions::GeneralName;

use crate::support::*;

fn chain_from_formats(formats: &Value) -> Vec<Vec<u8>> {
    let chain = formats["x509_cert_chain"]
        .as_array()
        .expect("x509_cert_chain array");
    assert_eq!(chain.len(), 3, "leaf, intermediate, root");
    chain
        .iter()
        .map(|entry| single_cert_der(entry["cert_blob"].as_str().expect("cert_blob")))
        .collect()
}

#[tokio::test]
async fn x509_delivery_for_every_key_type_top_level_shape() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    for alg in ALL_KEY_ALGS {
        let key = key_pair(alg);
        let csr = csr_pem(&key, Some("csr-cn.example.com"), &["csr-san.example.com"]);
        let reply = tlm
            .submit(&top_level_request(
                "prof-x509",
                &csr,
                "app.example.com",
                &["app.example.com", "www.example.com"],
            ))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{alg:?}: {}", reply.text);
        let body = reply.json();
        let serial = body["serial_number"].as_str().expect("serial_number");
        assert_eq!(serial.len(), 40);
        assert!(
            serial
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        assert_eq!(body["delivery_format"], "x509");
        let leaf_der = single_cert_der(body["certificate"].as_str().expect("certificate"));

        let leaf = parse_cert(&leaf_der);
        assert_eq!(hex::encode_upper(leaf.raw_serial()), serial);
        let cn = leaf
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok());
        assert_eq!(cn, Some("app.example.com"), "attributes win over the CSR's CN");
        let san = leaf
            .subject_alternative_name()
            .expect("san ext")
            .expect("san present");
        let dns: Vec<String> = san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(dns, vec!["app.example.com", "www.example.com"]);
        let eku = leaf
            .extended_key_usage()
            .expect("eku ext")
            .expect("eku present")
            .value;
        assert!(eku.server_auth && eku.client_auth);

        let status = tlm.status(serial).await;
        assert_eq!(status.status, StatusCode::OK);
        let status = status.json();
        assert_eq!(status["status"], "issued");
        assert_eq!(status["serial_number"], serial);
        assert_eq!(status["common_name"], "app.example.com");
        assert_eq!(status["profile"]["id"], "prof-x509");
        assert_eq!(status["seat"]["seat_id"], "seat@example.com");
        assert_eq!(status["issuing_ca_name"], "tlm-sim Issuing CA");
        assert_eq!(status["thumbprint"], sha256_hex(&leaf_der).to_ascii_uppercase());
        let (expected_alg, expected_size) = match alg {
            KeyAlg::Rsa2048 => ("RSA", 2048),
            KeyAlg::P256 => ("ECDSA", 256),
            KeyAlg::P384 => ("ECDSA", 384),
            KeyAlg::Ed25519 => ("Ed25519", 256),
        };
        assert_eq!(status["signature_algorithm"], expected_alg);
        assert_eq!(status["key_size"], expected_size);
        assert_eq!(
            single_cert_der(status["certificate"].as_str().expect("certificate")),
            leaf_der
        );
        let valid_from = time::OffsetDateTime::parse(
            status["valid_from"].as_str().expect("valid_from"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("RFC 3339");
        let valid_to = time::OffsetDateTime::parse(
            status["valid_to"].as_str().expect("valid_to"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("RFC 3339");
        assert_eq!(
            valid_to - valid_from,
            time::Duration::days(30),
            "requested validity honoured"
        );

        let formats = tlm
            .get(&format!("/mpki/api/v1/certificate/{serial}/additional-formats"))
            .await;
        assert_eq!(formats.status, StatusCode::OK);
        let formats = formats.json();
        let chain = chain_from_formats(&formats);
        assert_eq!(chain[0], leaf_der);
        assert_eq!(formats["x509_cert_chain"][0]["common_name"], "app.example.com");
        assert_eq!(formats["x509_cert_chain"][2]["common_name"], "tlm-sim Root CA");
        verify_chain(
            &chain[0],
            &chain[1],
            &chain[2],
            sim.root_ca_pem(),
            &spki_der(&key),
        );
        let mut from_pkcs7 = pkcs7_certificates(formats["pkcs7"].as_str().expect("pkcs7"));
        from_pkcs7.sort();
        let mut expected = chain.clone();
        expected.sort();
        assert_eq!(from_pkcs7, expected, "PKCS#7 holds the same three certificates");
    }
}

#[tokio::test]
async fn pkcs7_delivery_for_every_key_type_nested_shape() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    for alg in ALL_KEY_ALGS {
        let key = key_pair(alg);
        let csr = csr_pem(&key, None, &["nested.example.com"]);
        let reply = tlm
            .submit(&nested_request("prof-pkcs7", &csr, "nested.example.com"))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{alg:?}: {}", reply.text);
        let body = reply.json();
        assert_eq!(body["delivery_format"], "pkcs7");
        let pkcs7 = body["certificate"].as_str().expect("certificate");
        assert!(pkcs7.starts_with("-----BEGIN PKCS7-----"));
        let [leaf, intermediate, root] = order_chain(pkcs7_certificates(pkcs7));
        verify_chain(&leaf, &intermediate, &root, sim.root_ca_pem(), &spki_der(&key));

        let serial = body["serial_number"].as_str().expect("serial");
        let status = tlm.status(serial).await.json();
        assert_eq!(
            status["seat"]["seat_id"], "nested@example.com",
            "nested seat.id accepted"
        );
        assert_eq!(
            single_cert_der(status["certificate"].as_str().expect("leaf")),
            leaf
        );
    }
}

#[tokio::test]
async fn names_fall_back_to_the_csr_and_all_san_kinds_are_issued() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let csr = csr_pem(
        &key,
        Some("from-csr.example.com"),
        &["csr-only.example.com", "192.0.2.7"],
    );
    let reply = tlm
        .submit(&json!({"profile": {"id": "prof-x509"}, "csr": csr}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let leaf_der = single_cert_der(reply.json()["certificate"].as_str().expect("certificate"));
    let leaf = parse_cert(&leaf_der);
    assert_eq!(
        leaf.subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok()),
        Some("from-csr.example.com")
    );
    let san = leaf
        .subject_alternative_name()
        .expect("ext")
        .expect("san")
        .value
        .general_names
        .clone();
    assert!(san.contains(&GeneralName::DNSName("csr-only.example.com")));
    assert!(san.contains(&GeneralName::IPAddress(&[192, 0, 2, 7])));

    let reply = tlm
        .submit(&json!({
            "profile": {"id": "prof-x509"},
            "csr": csr_pem(&key, None, &[]),
            "attributes": {
                "subject": {"common_name": "all.example.com", "organization_name": "Example Org", "country": "us"},
                "extensions": {"san": {
                    "dns_names": ["all.example.com", "bücher.example.com"],
                    "ip_addresses": ["2001:db8::1"],
                    "emails": ["ops@example.com"],
                    "uris": ["spiffe://example.com/app"]
                }}
            }
        }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let leaf_der = single_cert_der(reply.json()["certificate"].as_str().expect("certificate"));
    let leaf = parse_cert(&leaf_der);
    let san = leaf
        .subject_alternative_name()
        .expect("ext")
        .expect("san")
        .value
        .general_names
        .clone();
    assert!(
        san.contains(&GeneralName::DNSName("xn--bcher-kva.example.com")),
        "IDN SANs are Punycode: {san:?}"
    );
    assert!(san.contains(&GeneralName::RFC822Name("ops@example.com")));
    assert!(san.contains(&GeneralName::URI("spiffe://example.com/app")));
    assert!(
        san.iter()
            .any(|n| matches!(n, GeneralName::IPAddress(b) if b.len() == 16))
    );
    assert_eq!(
        leaf.subject().to_string(),
        "C=US, O=Example Org, CN=all.example.com"
    );
}

#[tokio::test]
async fn short_profile_ignores_requested_validity() {
    let sim = start_with(|o| o.short_validity = std::time::Duration::from_secs(90)).await;
    let tlm = Tlm::new(&sim);
    let body = tlm
        .issue("prof-short", &key_pair(KeyAlg::P256), "short.example.com", &[])
        .await;
    let leaf_der = single_cert_der(body["certificate"].as_str().expect("certificate"));
    let validity = parse_cert(&leaf_der)
        .validity()
        .time_to_expiration()
        .expect("not expired");
    assert!(
        validity.whole_seconds() <= 90 && validity.whole_seconds() > 60,
        "lifetime {validity}"
    );
}

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
            "prof-scep"
        ]
    );
    let pkcs7 = &all[1];
    assert_eq!(pkcs7["certificate_delivery_format"], "pkcs7");
    assert_eq!(pkcs7["enrollment_method"], "rest_api");
    assert_eq!(pkcs7["status"], "Active");
    assert_eq!(pkcs7["renewal_period_days"], 30);
    assert_eq!(
        pkcs7["certificate"]["validity"],
        json!({"unit": "days", "duration": 365})
    );
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
    let bad = Tlm::new(&sim).get("/mpki/api/v2/profile?limit=lots").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let limited = Tlm::with_key(&sim, Some(LIMITED_KEY))
        .get("/mpki/api/v2/profile")
        .await
        .json();
    assert_eq!(limited.as_array().map(|a| a.len()), Some(1));
    assert_eq!(limited[0]["id"], "prof-x509");
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
