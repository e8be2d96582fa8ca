//! `crds/` must hold exactly what the Rust types generate.

use tlm_operator::api::all_crds;
use tlm_operator::crd_yaml::{file_name, render};

#[test]
fn crds_directory_matches_the_types() {
    let dir = testkit::repo_root().join("crds");
    let mut expected_files = Vec::new();
    for crd in all_crds() {
        let name = file_name(&crd);
        let generated = render(&crd).unwrap();
        let on_disk = std::fs::read_to_string(dir.join(&name)).unwrap_or_else(|e| {
            panic!("crds/{name} is missing ({e}); run `cargo run -- crds --output-dir crds`")
        });
        assert!(
            on_disk == generated,
            "crds/{name} is stale; run `cargo run -- crds --output-dir crds` and commit the result"
        );
        expected_files.push(name);
    }
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    expected_files.sort();
    assert_eq!(present, expected_files, "crds/ holds files no type generates");
}

#[test]
fn deploy_crds_are_all_crds_in_one_file() {
    let path = testkit::repo_root().join("deploy/crds.yaml");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == tlm_operator::crd_yaml::render_all().unwrap(),
        "deploy/crds.yaml is stale; run `make manifests`"
    );
}

#[test]
fn chart_crds_are_the_same_bytes() {
    let root = testkit::repo_root();
    for crd in all_crds() {
        let name = file_name(&crd);
        let chart = std::fs::read(root.join("charts/tlm-operator/crds").join(&name)).unwrap();
        let plain = std::fs::read(root.join("crds").join(&name)).unwrap();
        assert!(
            chart == plain,
            "charts/tlm-operator/crds/{name} differs from crds/{name}; run `make manifests`"
        );
    }
}

#[test]
fn crd_reference_is_generated_from_the_schema() {
    let path = testkit::repo_root().join("docs/crd-reference.md");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == tlm_operator::crd_reference::render(),
        "docs/crd-reference.md is stale; run `make manifests`"
    );
    for rule in [
        "RSA keys must be 2048, 3072 or 4096 bits",
        "interval must be at least 1m",
        "plain http is only allowed for loopback",
    ] {
        assert!(on_disk.contains(rule), "the reference lists the rule {rule:?}");
    }
}

#[test]
fn crds_command_prints_every_crd() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tlm-operator"))
        .arg("crds")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "certificates.tlm.certops.dev",
        "clusterissuers.tlm.certops.dev",
        "ctwatches.tlm.certops.dev",
        "issuers.tlm.certops.dev",
    ] {
        assert!(
            text.contains(&format!("name: {name}")),
            "{name} missing from `tlm-operator crds`"
        );
    }
    assert_eq!(text.matches("kind: CustomResourceDefinition").count(), 4);
}
