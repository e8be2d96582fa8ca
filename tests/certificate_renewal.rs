//! Renewal before expiry, with and without key rotation.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Env;

fn public_key_of(env: &Env, data: &std::collections::BTreeMap<String, Vec<u8>>, tag: &str) -> String {
    let dir = env.dir.join(format!("renew-{tag}-{}", support::rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tls.key"), &data["tls.key"]).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-in", "tls.key", "-pubout"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn short_lived_certificates_renew_before_expiry_and_honour_rotation_policy() {
    let env = Env::new("renew").await;
    env.issuer_for("tlm", "prof-short").await;
    let mut op = env.start_operator(&[], &[]);
    for (name, policy) in [("always", "Always"), ("never", "Never")] {
        env.create_certificate(
            name,
            json!({"secretName": format!("{name}-tls"), "issuerRef": {"name": "tlm"},
                   "dnsNames": [format!("{name}.example.com")], "privateKey": {"rotationPolicy": policy}}),
        )
        .await;
    }
    let mut first = Vec::new();
    for name in ["always", "never"] {
        let status = env
            .wait_ready(name, 1, Duration::from_secs(60))
            .await
            .status
            .unwrap();
        let lifetime = status
            .not_after
            .as_ref()
            .unwrap()
            .0
            .duration_since(status.not_before.as_ref().unwrap().0);
        assert!(
            lifetime.as_secs() <= 120,
            "the short profile issues short certificates"
        );
        let data = env.secret_data(&format!("{name}-tls")).await;
        first.push((status, public_key_of(&env, &data, name)));
    }
    for (i, name) in ["always", "never"].into_iter().enumerate() {
        // Renewal at 2/3 of a 60s lifetime: well before expiry.
        let cert = env.wait_ready(name, 2, Duration::from_secs(120)).await;
        let status = cert.status.unwrap();
        let (old_status, old_key) = &first[i];
        assert_ne!(
            status.serial_number, old_status.serial_number,
            "{name}: new serial"
        );
        assert!(
            status.not_before.as_ref().unwrap().0 < old_status.not_after.as_ref().unwrap().0,
            "{name}: renewed before the old certificate expired"
        );
        env.verify_secret_with_openssl(&format!("{name}-tls")).await;
        let new_key = public_key_of(&env, &env.secret_data(&format!("{name}-tls")).await, name);
        if name == "never" {
            assert_eq!(&new_key, old_key, "rotationPolicy Never keeps the key");
        } else {
            assert_ne!(&new_key, old_key, "rotationPolicy Always makes a new key");
        }
    }
    let counters = env.sim.counters();
    assert!(
        counters.requests.get("renew").copied().unwrap_or(0) >= 2,
        "renewals use the renew endpoint: {:?}",
        counters.requests
    );
    let reasons = env.event_reasons("always").await;
    assert!(reasons.iter().any(|r| r == "Renewed"), "{reasons:?}");
    op.terminate();
    env.assert_log_clean(&op, &[]);
}
