//! Issuance through every key type, both delivery formats, the CA chain, and every subject
//! field read back from the certificate.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
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

fn dns_sans(der: &[u8]) -> Vec<String> {
    parse_cert(der)
        .subject_alternative_name()
        .expect("san ext")
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn lifetime(status: &Value) -> time::Duration {
    let at = |field: &str| {
        time::OffsetDateTime::parse(status[field].as_str().expect(field), &Rfc3339).expect("RFC 3339")
    };
    at("valid_to") - at("valid_from")
}

#[tokio::test]
async fn x509_delivery_for_every_key_type() {
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
        assert_eq!(dns_sans(&leaf_der), vec!["app.example.com", "www.example.com"]);
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
        assert_eq!(status_der(&status), leaf_der, "base64 DER of the leaf");
        assert_eq!(
            lifetime(&status),
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
async fn include_ca_chain_appends_the_intermediate() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let mut body = top_level_request(
        "prof-x509",
        &csr_pem(&key, None, &[]),
        "chain.example.com",
        &["chain.example.com"],
    );
    body["include_ca_chain"] = json!(true);
    let reply = tlm.submit(&body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let blocks = pem_blocks(reply.json()["certificate"].as_str().expect("certificate"));
    assert_eq!(blocks.len(), 2, "leaf, then intermediate");
    assert!(blocks.iter().all(|(label, _)| label == "CERTIFICATE"));
    assert_eq!(blocks[1].1, single_cert_der(sim.intermediate_pem()));
    verify_chain(
        &blocks[0].1,
        &blocks[1].1,
        &single_cert_der(sim.root_ca_pem()),
        sim.root_ca_pem(),
        &spki_der(&key),
    );
}

#[tokio::test]
async fn pkcs7_delivery_for_every_key_type() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    for alg in ALL_KEY_ALGS {
        let key = key_pair(alg);
        let csr = csr_pem(&key, None, &["p7.example.com"]);
        let reply = tlm.submit(&minimal_request("prof-pkcs7", &csr)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{alg:?}: {}", reply.text);
        let body = reply.json();
        assert_eq!(body["delivery_format"], "PKCS7");
        let pkcs7 = body["certificate"].as_str().expect("certificate");
        assert!(pkcs7.starts_with("-----BEGIN PKCS7-----"));
        let [leaf, intermediate, root] = order_chain(pkcs7_certificates(pkcs7));
        verify_chain(&leaf, &intermediate, &root, sim.root_ca_pem(), &spki_der(&key));

        let serial = body["serial_number"].as_str().expect("serial");
        let status = tlm.status(serial).await.json();
        assert_eq!(status["seat"]["seat_id"], "seat@example.com");
        assert_eq!(status_der(&status), leaf);
    }
}

#[tokio::test]
async fn every_subject_field_is_in_the_certificate() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let mut body = minimal_request("prof-x509", &csr_pem(&key_pair(KeyAlg::P256), None, &[]));
    body["attributes"] = json!({
        "subject": {
            "common_name": "dn.example.com",
            "organization_name": "Example Org",
            "organization_units": ["Ops", "Web"],
            "street_address": ["1 Main St", "Floor 2"],
            "domain_component": ["example", "com"],
            "country": "us",
            "state": "Utah",
            "locality": "Lehi",
            "postal_code": "84043"
        },
        "extensions": {"san": {"dns_names": ["dn.example.com"]}}
    });
    let reply = tlm.submit(&body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let body = reply.json();
    let leaf_der = single_cert_der(body["certificate"].as_str().expect("certificate"));
    let leaf = parse_cert(&leaf_der);
    leaf.verify_signature(Some(
        parse_cert(&single_cert_der(sim.intermediate_pem())).public_key(),
    ))
    .expect("still signed by the intermediate");
    let subject = leaf.subject();
    let values = |oid: &x509_parser::der_parser::Oid<'_>| -> Vec<String> {
        subject
            .iter_by_oid(oid)
            .map(|a| a.as_str().expect("string").to_string())
            .collect()
    };
    use x509_parser::oid_registry as oids;
    assert_eq!(values(&oids::OID_X509_ORGANIZATIONAL_UNIT), ["Ops", "Web"]);
    assert_eq!(values(&oids::OID_X509_STREET_ADDRESS), ["1 Main St", "Floor 2"]);
    assert_eq!(values(&oids::OID_DOMAIN_COMPONENT), ["example", "com"]);
    assert_eq!(values(&oids::OID_X509_ORGANIZATION_NAME), ["Example Org"]);
    assert_eq!(values(&oids::OID_X509_COUNTRY_NAME), ["US"]);
    assert_eq!(values(&oids::OID_X509_STATE_OR_PROVINCE_NAME), ["Utah"]);
    assert_eq!(values(&oids::OID_X509_LOCALITY_NAME), ["Lehi"]);
    assert_eq!(values(&oids::OID_X509_POSTAL_CODE), ["84043"]);
    assert_eq!(values(&oids::OID_X509_COMMON_NAME), ["dn.example.com"]);

    let status = tlm
        .status(body["serial_number"].as_str().expect("serial"))
        .await
        .json();
    assert_eq!(status["subject"]["organization_units"], json!(["Ops", "Web"]));
    assert_eq!(
        status["subject"]["street_address"],
        json!(["1 Main St", "Floor 2"])
    );
    assert_eq!(status["subject"]["postal_code"], "84043");
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
    let reply = tlm.submit(&minimal_request("prof-x509", &csr)).await;
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

    let mut body = minimal_request("prof-x509", &csr_pem(&key, None, &[]));
    body["attributes"] = json!({
        "subject": {"common_name": "all.example.com", "organization_name": "Example Org", "country": "us"},
        "extensions": {"san": {
            "dns_names": ["all.example.com", "bücher.example.com"],
            "ip_addresses": ["2001:db8::1"],
            "emails": ["ops@example.com"],
            "uris": ["spiffe://example.com/app"],
            "user_principal_names": ["svc@example.com"],
            "registered_ids": ["1.2.3.4"]
        }}
    });
    let reply = tlm.submit(&body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let body = reply.json();
    let leaf_der = single_cert_der(body["certificate"].as_str().expect("certificate"));
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
    assert!(
        san.iter().any(|n| matches!(n, GeneralName::OtherName(..))),
        "the UPN"
    );
    assert_eq!(
        leaf.subject().to_string(),
        "C=US, O=Example Org, CN=all.example.com"
    );
    let status = tlm
        .status(body["serial_number"].as_str().expect("serial"))
        .await
        .json();
    assert_eq!(status["san"]["user_principal_names"], json!(["svc@example.com"]));
    assert_eq!(status["san"]["registered_ids"], json!(["1.2.3.4"]));
}

#[tokio::test]
async fn validity_units_and_the_short_profile() {
    let sim = start_with(|o| o.short_validity = std::time::Duration::from_secs(90)).await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    for (unit, duration, expected) in [
        ("hours", 2, time::Duration::hours(2)),
        ("minutes", 45, time::Duration::minutes(45)),
        ("months", 1, time::Duration::days(30)),
        ("years", 1, time::Duration::days(365)),
    ] {
        let mut body = minimal_request("prof-x509", &csr_pem(&key, Some("v.example.com"), &[]));
        body["validity"] = json!({"unit": unit, "duration": duration});
        let reply = tlm.submit(&body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{unit}: {}", reply.text);
        let serial = reply.json()["serial_number"]
            .as_str()
            .expect("serial")
            .to_string();
        assert_eq!(lifetime(&tlm.status(&serial).await.json()), expected, "{unit}");
    }
    let body = tlm.issue("prof-short", &key, "short.example.com", &[]).await;
    let leaf_der = single_cert_der(body["certificate"].as_str().expect("certificate"));
    let left = parse_cert(&leaf_der)
        .validity()
        .time_to_expiration()
        .expect("not expired");
    assert!(
        left.whole_seconds() <= 90 && left.whole_seconds() > 60,
        "lifetime {left}"
    );
}
