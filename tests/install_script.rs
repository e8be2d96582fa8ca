//! The control-plane install script's report path runs to the end under `set -euo pipefail`
//! (a `| head` there once killed etcd with SIGPIPE and failed a newcomer's first `make demo`).

use std::path::Path;
use std::process::Command;

#[test]
fn the_install_script_reports_versions_and_the_bin_dir() {
    let root = testkit::repo_root();
    let script = root.join("hack/install-control-plane.sh");
    let bin_dir = Command::new("bash")
        .arg(&script)
        .arg("--print-bin-dir")
        .output()
        .expect("bash");
    let bin_dir = String::from_utf8(bin_dir.stdout).unwrap().trim().to_string();
    assert!(
        Path::new(&bin_dir).join("etcd").exists(),
        "the control plane is not installed in {bin_dir}: run `make test` (or hack/install-control-plane.sh)"
    );
    let out = Command::new("bash")
        .arg(&script)
        .arg("--report")
        .output()
        .expect("bash");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), bin_dir);
    for expected in ["Kubernetes v1.", "etcd Version: 3.", "v3."] {
        assert!(stderr.contains(expected), "{expected:?} missing from: {stderr}");
    }
}
