//! The `tlm-sim` binary: flags, the `listening on` line, and a real request against it.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::*;

struct Running {
    child: Child,
    url: String,
}

async fn run(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlm-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tlm-sim starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("listening line within 30 s")
    .expect("stdout readable");
    let url = line
        .trim()
        .strip_prefix("tlm-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Running { child, url }
}

#[tokio::test]
async fn binary_prints_its_url_and_serves() {
    let mut running = run(&[]).await;
    assert!(running.url.starts_with("http://127.0.0.1:"), "{}", running.url);
    let port: u16 = running
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    assert_ne!(port, 0);
    let hello = send(client().get(format!("{}/mpki/api/v1/hello", running.url))).await;
    assert_eq!(hello.status, StatusCode::OK);
    assert_eq!(hello.text, "hello");
    let profiles = send(
        client()
            .get(format!("{}/mpki/api/v2/profile", running.url))
            .header("x-api-key", KEY),
    )
    .await;
    assert_eq!(profiles.status, StatusCode::OK, "default keys apply");
    running.child.kill().await.expect("stop tlm-sim");
}

#[tokio::test]
async fn flags_configure_keys_and_faults() {
    let mut running = run(&[
        "--api-key",
        "custom=prof-x509",
        "--fault",
        "search:error_rate=1,error_statuses=418",
        "--certspotter-token",
        "tok",
        "--seed",
        "9",
    ])
    .await;
    let get = |path: &str, key: &str| {
        client()
            .get(format!("{}{path}", running.url))
            .header("x-api-key", key)
    };
    let custom = send(get("/mpki/api/v2/profile", "custom")).await;
    assert_eq!(custom.status, StatusCode::OK);
    assert_eq!(custom.json().as_array().map(Vec::len), Some(1));
    assert_eq!(
        send(get("/mpki/api/v2/profile", KEY)).await.status,
        StatusCode::UNAUTHORIZED,
        "defaults replaced"
    );
    assert_eq!(
        send(get("/mpki/api/v1/certificate-search", "custom"))
            .await
            .status
            .as_u16(),
        418
    );
    let feed = send(client().get(format!("{}/v1/issuances?domain=example.com", running.url))).await;
    assert_eq!(feed.status, StatusCode::UNAUTHORIZED, "token required");
    running.child.kill().await.expect("stop tlm-sim");
}

#[tokio::test]
async fn bad_flags_fail_fast() {
    let output = Command::new(env!("CARGO_BIN_EXE_tlm-sim"))
        .args(["--listen", "127.0.0.1:0", "--fault", "nowhere:error_rate=1"])
        .output()
        .await
        .expect("tlm-sim runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--fault nowhere:error_rate=1"), "{stderr}");
    assert!(output.stdout.is_empty(), "no listening line on failure");
}
