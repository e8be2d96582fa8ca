//! What TLM says about an issued certificate counts: one revoked, suspended or expired in TLM
//! is re-issued with a Warning Event; subject fields the spec types as arrays arrive in the
//! certificate.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Env;
use x509_parser::prelude::{FromDer, X509Certificate};

#[tokio::test]
async fn a_certificate_revoked_suspended_or_expired_in_tlm_is_reissued_with_a_warning() {
    let env = Env::new("tlm-state").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&["--issued-check-interval", "2s"], &[]);
    let cases = [
        ("rv", "revoked", "RevokedInTLM"),
        ("sp", "suspended", "SuspendedInTLM"),
        ("ex", "expired", "ExpiredInTLM"),
    ];
    for (name, _, _) in cases {
        env.create_certificate(
            name,
            json!({"secretName": format!("{name}-tls"), "issuerRef": {"name": "tlm"}, "dnsNames": [format!("{name}.example.com")]}),
        )
        .await;
    }
    for (name, state, reason) in cases {
        let first = env.wait_ready(name, 1, Duration::from_secs(60)).await;
        let serial = first.status.unwrap().serial_number.unwrap();
        env.sim.set_certificate_status(&serial, state).unwrap();
        let second = env.wait_ready(name, 2, Duration::from_secs(60)).await;
        let new_serial = second.status.unwrap().serial_number.unwrap();
        assert_ne!(
            new_serial, serial,
            "{name}: a new certificate replaced the {state} one"
        );
        let warnings: Vec<_> = env
            .events_for(name)
            .await
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .collect();
        assert_eq!(warnings.len(), 1, "{name}: one {reason} Event");
        assert_eq!(warnings[0].type_.as_deref(), Some("Warning"));
        let note = warnings[0].message.clone().unwrap_or_default();
        assert!(note.contains(&serial) && note.contains(state), "{note}");
        env.verify_secret_with_openssl(&format!("{name}-tls")).await;
    }
    // A certificate TLM still reports as issued is left alone: checked, not re-issued.
    let statuses_before = env.sim.counters().requests.get("status").copied().unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let statuses_after = env.sim.counters().requests.get("status").copied().unwrap_or(0);
    assert!(
        statuses_after > statuses_before,
        "issued certificates are checked periodically"
    );
    for (name, _, _) in cases {
        let cert = env.certs().get(name).await.unwrap();
        assert_eq!(
            cert.status.unwrap().revision,
            Some(2),
            "{name} stays at revision 2"
        );
    }
    let orders: u64 = env.sim.counters().orders_by_public_key.values().sum();
    assert_eq!(orders, 6, "two orders per Certificate, no more");
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn organizational_units_and_street_lines_are_all_in_the_certificate() {
    let env = Env::new("subject").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "subj",
        json!({"secretName": "subj-tls", "issuerRef": {"name": "tlm"}, "commonName": "subj.example.com",
               "dnsNames": ["subj.example.com"],
               "subject": {"organizations": ["Example Corp"], "organizationalUnits": ["Ops", "Web"],
                           "streetAddresses": ["1 Main St", "Floor 2"], "localities": ["Springfield"],
                           "countries": ["US"]}}),
    )
    .await;
    env.wait_ready("subj", 1, Duration::from_secs(60)).await;
    env.verify_secret_with_openssl("subj-tls").await;
    let data = env.secret_data("subj-tls").await;
    let pem = String::from_utf8(data["tls.crt"].clone()).unwrap();
    let der = tlm_operator::pki::certs_from_pem(&pem).unwrap().remove(0);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let values = |oid: &x509_parser::der_parser::Oid<'_>| -> Vec<String> {
        cert.subject()
            .iter_attributes()
            .filter(|a| a.attr_type() == oid)
            .filter_map(|a| a.as_str().ok().map(String::from))
            .collect()
    };
    use x509_parser::oid_registry::{
        OID_X509_COMMON_NAME, OID_X509_LOCALITY_NAME, OID_X509_ORGANIZATION_NAME,
        OID_X509_ORGANIZATIONAL_UNIT, OID_X509_STREET_ADDRESS,
    };
    assert_eq!(values(&OID_X509_COMMON_NAME), ["subj.example.com"]);
    assert_eq!(values(&OID_X509_ORGANIZATION_NAME), ["Example Corp"]);
    let mut units = values(&OID_X509_ORGANIZATIONAL_UNIT);
    units.sort();
    assert_eq!(units, ["Ops", "Web"]);
    let mut streets = values(&OID_X509_STREET_ADDRESS);
    streets.sort();
    assert_eq!(streets, ["1 Main St", "Floor 2"]);
    assert_eq!(values(&OID_X509_LOCALITY_NAME), ["Springfield"]);
    let submit = env
        .sim
        .counters()
        .log
        .iter()
        .filter(|e| e.endpoint == "submit")
        .count();
    assert_eq!(submit, 1);
    op.terminate();
}

#[tokio::test]
async fn a_profile_that_sets_its_own_validity_gets_none_sent_and_status_says_so() {
    let env = Env::new("validity").await;
    env.issuer_for("tlm", "prof-short").await;
    let mut op = env.start_operator(&[], &[]);
    env.create_certificate(
        "own",
        json!({"secretName": "own-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["own.example.com"],
               "duration": "48h"}),
    )
    .await;
    // The strict sim refuses `validity` on a profile without API override: Ready proves none
    // was sent.
    let cert = env.wait_ready("own", 1, Duration::from_secs(60)).await;
    let issuing = support::condition(&cert, "Issuing").unwrap().2;
    assert!(
        issuing.contains("the profile's own validity applies"),
        "{issuing}"
    );
    let issuers: kube::Api<tlm_operator::api::Issuer> = kube::Api::namespaced(env.client.clone(), &env.ns);
    let profile = issuers.get("tlm").await.unwrap().status.unwrap().profile.unwrap();
    assert_eq!(profile.validity_override, Some(false));
    assert!(
        profile.validity.is_some(),
        "the issuer shows the profile's validity"
    );
    op.terminate();
}
