//! `--cert-manager-issuer` on a cluster without cert-manager: the operator says so and runs
//! without that controller (its own test binary: this control plane never gets cert-manager's
//! CRDs).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::Env;

#[tokio::test]
async fn without_cert_managers_crd_the_operator_logs_an_error_and_runs_on() {
    let env = Env::new("cm-missing").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = env.start_operator(&["--cert-manager-issuer"], &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !op
        .logs()
        .contains("certificaterequests.cert-manager.io is not installed")
    {
        assert!(
            Instant::now() < deadline,
            "no error about the missing CRD: {}",
            op.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(op.logs().contains(r#""level":"ERROR""#));
    // Our own Certificates are still served.
    env.create_certificate(
        "still",
        json!({"secretName": "still-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["still.example.com"]}),
    )
    .await;
    env.wait_ready("still", 1, Duration::from_secs(60)).await;
    assert!(op.exited().is_none());
    op.terminate();
}
