//! The README's first command works: the demo issues a certificate and catches a rogue issuance.

use std::process::Command;

#[test]
fn demo_issues_a_certificate_and_catches_a_rogue_issuance() {
    // The operator binary is built beside the demo when the workspace is tested.
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_tlm-demo"))
        .parent()
        .unwrap()
        .to_path_buf();
    let operator = bin_dir.join("tlm-operator");
    assert!(
        operator.is_file(),
        "{} missing: run the tests with `cargo test --workspace`",
        operator.display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tlm-demo"))
        .arg("--operator-bin")
        .arg(&operator)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    for expected in [
        "tlmcert/web  Ready=True (Ready)",
        "chain     verified",
        "matches the certificate: true",
        "as Expected (ManagedKey)",
        "Event Warning UnexpectedIssuance",
        "login.example.com",
        "demo finished in",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from the demo output:\n{stdout}"
        );
    }
    assert!(!stdout.contains("PRIVATE KEY"), "the demo prints no key");
}

#[test]
fn the_demo_issues_through_certcentral_and_qualys_too() {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_tlm-demo"))
        .parent()
        .unwrap()
        .to_path_buf();
    let operator = bin_dir.join("tlm-operator");
    for (backend, issuer) in [("certcentral", "Issuer certcentral"), ("qualys", "Issuer qualys")] {
        let out = Command::new(env!("CARGO_BIN_EXE_tlm-demo"))
            .args(["--backend", backend, "--operator-bin"])
            .arg(&operator)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{backend} demo failed:\n{stdout}\n{stderr}");
        for expected in [issuer, "tlmcert/web  Ready=True (Ready)", "chain     verified"] {
            assert!(
                stdout.contains(expected),
                "{backend}: {expected:?} missing from the demo output:\n{stdout}"
            );
        }
    }
}
