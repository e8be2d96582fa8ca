//! cert-manager external-issuer mode on the real API server with cert-manager's own CRDs
//! (v1.21.2, fetched by hack/install-cert-manager-crds.sh): CertificateRequests for
//! `tlm.certops.dev` issuers are served once approved, against tlm-sim. No cert-manager process
//! runs; the tests do what cert-manager and its approver would (create, approve, deny).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;
use support::cert_manager::{csr_for, install_cert_manager_crds, ready_of};
use support::{API_KEY, Env};
use tlm_operator::certmanager::api::CertificateRequest;
use tlm_operator::pki::sha256_hex;

const ORDER: &str = "tlm.certops.dev/order";

async fn env(prefix: &str) -> Env {
    let env = Env::new(prefix).await;
    install_cert_manager_crds(&env.client).await;
    env
}

fn operator(env: &Env, log: &str, crash_at: Option<&str>) -> testkit::OperatorProcess {
    let crash: Vec<(&str, &str)> = crash_at
        .map(|p| ("TLM_OPERATOR_CRASH_AT", p))
        .into_iter()
        .collect();
    env.start_operator_logging_to(log, &["--cert-manager-issuer"], &crash)
}

fn our_issuer() -> serde_json::Value {
    json!({"name": "tlm", "kind": "Issuer", "group": "tlm.certops.dev"})
}

fn orders(env: &Env) -> u64 {
    env.sim.counters().orders_by_public_key.values().sum()
}

fn orders_for(env: &Env, key: &rcgen::KeyPair) -> u64 {
    let spki = sha256_hex(&rcgen::PublicKeyData::subject_public_key_info(key));
    env.sim
        .counters()
        .orders_by_public_key
        .get(&spki)
        .copied()
        .unwrap_or(0)
}

/// The order record the operator keeps on the request.
fn record(cr: &CertificateRequest) -> serde_json::Value {
    serde_json::from_str(cr.annotation(ORDER).expect("the order annotation")).unwrap()
}

/// Verifies `status.certificate` and `status.ca` with openssl: the chain verifies to the
/// simulator's root, `ca` is that root, and the leaf carries the CSR's key. Returns the leaf's
/// text dump.
fn verify_issued(env: &Env, cr: &CertificateRequest, key: &rcgen::KeyPair) -> String {
    let status = cr.status.clone().unwrap();
    let chain = String::from_utf8(
        STANDARD
            .decode(status.certificate.expect("status.certificate"))
            .unwrap(),
    )
    .unwrap();
    let ca = String::from_utf8(STANDARD.decode(status.ca.expect("status.ca")).unwrap()).unwrap();
    assert_eq!(
        ca.trim(),
        env.sim.root_ca_pem().trim(),
        "status.ca is the simulator's root"
    );
    let dir = env
        .dir
        .join(format!("verify-{}", cr.metadata.name.clone().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    let blocks: Vec<&str> = chain.split_inclusive("-----END CERTIFICATE-----\n").collect();
    assert!(
        blocks.len() >= 2,
        "status.certificate holds the leaf and the intermediate"
    );
    std::fs::write(dir.join("leaf.pem"), blocks[0]).unwrap();
    std::fs::write(dir.join("intermediates.pem"), blocks[1..].concat()).unwrap();
    std::fs::write(dir.join("root.pem"), env.sim.root_ca_pem()).unwrap();
    let run = |args: &[&str]| support::openssl(&dir, args);
    let verified = run(&[
        "verify",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "intermediates.pem",
        "leaf.pem",
    ]);
    assert!(verified.contains("leaf.pem: OK"), "{verified}");
    let leaf_key = run(&["x509", "-in", "leaf.pem", "-noout", "-pubkey"]);
    assert_eq!(
        leaf_key.trim(),
        key.public_key_pem().trim(),
        "the leaf carries the CSR's key"
    );
    run(&["x509", "-in", "leaf.pem", "-noout", "-text", "-dates"])
}

#[tokio::test]
async fn an_approved_request_is_issued_and_verifies() {
    let env = env("cm-issue").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = operator(&env, "operator.log", None);
    let (request, key) = csr_for(&["cm.example.com", "www.cm.example.com"]);
    env.create_request(
        "web",
        &request,
        our_issuer(),
        json!({"duration": "720h", "isCA": false}),
    )
    .await;
    env.decide_request("web", true).await;
    let cr = env
        .wait_request_ready("web", "True", "Issued", Duration::from_secs(60))
        .await;
    let text = verify_issued(&env, &cr, &key);
    assert!(
        text.contains("DNS:cm.example.com") && text.contains("DNS:www.cm.example.com"),
        "{text}"
    );
    let leaf = tlm_operator::pki::certs_from_pem(
        &String::from_utf8(
            STANDARD
                .decode(cr.status.clone().unwrap().certificate.unwrap())
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let leaf = tlm_operator::pki::LeafInfo::parse(&leaf[0]).unwrap();
    let days = leaf.not_after.duration_since(leaf.not_before).as_secs() / 86_400;
    assert!(
        (29..=31).contains(&days),
        "spec.duration 720h honoured: {days} days"
    );
    assert!(
        record(&cr)["submittedAt"].is_string(),
        "the order was recorded before submitting"
    );
    assert_eq!(cr.status.as_ref().unwrap().failure_time, None);
    assert_eq!(orders_for(&env, &key), 1);
    assert!(env.event_reasons("web").await.iter().any(|r| r == "Issued"));
    // Finished requests are left alone: nothing more is ordered or written.
    let version = cr.metadata.resource_version.clone();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        env.requests().get("web").await.unwrap().metadata.resource_version,
        version
    );
    assert_eq!(orders(&env), 1);
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn denied_and_ca_requests_fail_without_ordering() {
    let env = env("cm-deny").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = operator(&env, "operator.log", None);
    let (request, _) = csr_for(&["denied.example.com"]);
    env.create_request("denied", &request, our_issuer(), json!({}))
        .await;
    env.decide_request("denied", false).await;
    let (ca_request, _) = csr_for(&["ca.example.com"]);
    env.create_request("ca", &ca_request, our_issuer(), json!({"isCA": true}))
        .await;
    env.decide_request("ca", true).await;

    let denied = env
        .wait_request_ready("denied", "False", "Denied", Duration::from_secs(60))
        .await;
    assert!(
        denied.status.as_ref().unwrap().failure_time.is_some(),
        "a denied request has a failureTime"
    );
    let ca = env
        .wait_request_ready("ca", "False", "InvalidRequest", Duration::from_secs(60))
        .await;
    let (_, _, message) = ready_of(&ca).unwrap();
    assert!(message.contains("isCA"), "{message}");
    assert!(ca.status.unwrap().failure_time.is_some());
    assert_eq!(orders(&env), 0, "nothing was ordered");
    assert!(!env.sim.counters().requests.contains_key("submit"));
    assert!(denied.annotation(ORDER).is_none(), "no order recorded");
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn unapproved_and_foreign_requests_are_left_alone() {
    let env = env("cm-ignore").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut op = operator(&env, "operator.log", None);
    let (request, _) = csr_for(&["waiting.example.com"]);
    env.create_request("waiting", &request, our_issuer(), json!({}))
        .await;
    let (foreign, _) = csr_for(&["foreign.example.com"]);
    env.create_request(
        "foreign",
        &foreign,
        json!({"name": "tlm", "kind": "Issuer", "group": "cert-manager.io"}),
        json!({}),
    )
    .await;
    env.decide_request("foreign", true).await;
    // A request that is served, so the operator has certainly looked at the others.
    let (served, _) = csr_for(&["served.example.com"]);
    env.create_request("served", &served, our_issuer(), json!({}))
        .await;
    env.decide_request("served", true).await;
    env.wait_request_ready("served", "True", "Issued", Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in ["waiting", "foreign"] {
        let cr = env.requests().get(name).await.unwrap();
        assert_eq!(ready_of(&cr), None, "{name}: no Ready condition");
        assert!(cr.annotation(ORDER).is_none(), "{name}: nothing ordered");
    }
    assert_eq!(orders(&env), 1, "only the served request was ordered");
    // Approval is what starts it.
    env.decide_request("waiting", true).await;
    env.wait_request_ready("waiting", "True", "Issued", Duration::from_secs(60))
        .await;
    op.terminate();
}

#[tokio::test]
async fn a_request_awaiting_approval_in_tlm_is_delivered_once_approved() {
    let env = env("cm-pending").await;
    env.issuer_for("tlm", "prof-pending").await;
    let mut op = operator(&env, "operator.log", None);
    let (request, key) = csr_for(&["approve.example.com"]);
    env.create_request("appr", &request, our_issuer(), json!({}))
        .await;
    env.decide_request("appr", true).await;
    let waiting = env
        .wait_request(
            "appr",
            Duration::from_secs(60),
            "Ready=False Pending naming a request",
            |cr| {
                ready_of(cr)
                    .is_some_and(|(s, r, m)| s == "False" && r == "Pending" && m.contains("awaits approval"))
            },
        )
        .await;
    let request_id = record(&waiting)["requestId"]
        .as_str()
        .expect("the request id is recorded")
        .to_string();
    let (_, _, message) = ready_of(&waiting).unwrap();
    assert!(message.contains(&request_id), "{message}");
    assert_eq!(
        waiting.status.as_ref().unwrap().failure_time,
        None,
        "pending is not a failure"
    );
    env.sim.approve(&request_id).unwrap();
    let cr = env
        .wait_request_ready("appr", "True", "Issued", Duration::from_secs(60))
        .await;
    verify_issued(&env, &cr, &key);
    assert_eq!(env.sim_request(&request_id).status, "ISSUED");
    assert_eq!(orders_for(&env, &key), 1);
    assert_eq!(orders(&env), 1);
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn a_crash_after_submit_orders_once() {
    let env = env("cm-crash").await;
    env.issuer_for("tlm", "prof-x509").await;
    let mut crashing = operator(&env, "crash.log", Some("cr-after-submit"));
    let (request, key) = csr_for(&["crash.example.com"]);
    env.create_request("lost", &request, our_issuer(), json!({}))
        .await;
    env.decide_request("lost", true).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while crashing.exited().is_none() {
        assert!(
            Instant::now() < deadline,
            "the operator did not reach its crash point"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(crashing.logs().contains("TLM_OPERATOR_CRASH_AT=cr-after-submit"));
    assert_eq!(orders_for(&env, &key), 1, "the submit reached TLM");
    let before = env.requests().get("lost").await.unwrap();
    let marker = record(&before);
    assert!(
        marker.get("requestId").is_none() && marker.get("serialNumber").is_none(),
        "only the in-flight marker was written: {marker}"
    );
    assert!(
        ready_of(&before).is_none_or(|(status, _, _)| status == "False"),
        "not issued before the crash"
    );

    let mut op = operator(&env, "restart.log", None);
    let cr = env
        .wait_request_ready("lost", "True", "Issued", Duration::from_secs(60))
        .await;
    verify_issued(&env, &cr, &key);
    assert_eq!(
        orders_for(&env, &key),
        1,
        "the lost answer's certificate was found, not ordered again"
    );
    assert_eq!(orders(&env), 1);
    op.terminate();
    env.assert_log_clean(&op, &[]);
    env.assert_log_clean(&crashing, &[]);
}

#[tokio::test]
async fn an_issuer_that_is_not_ready_leaves_the_request_pending() {
    let env = env("cm-noissuer").await;
    // The Issuer's API key Secret does not exist.
    env.create_issuer("tlm", "prof-x509", "no-such-secret").await;
    let mut op = operator(&env, "operator.log", None);
    let (request, _) = csr_for(&["early.example.com"]);
    env.create_request("early", &request, our_issuer(), json!({}))
        .await;
    env.decide_request("early", true).await;
    let cr = env
        .wait_request(
            "early",
            Duration::from_secs(60),
            "Ready=False Pending (issuer not ready)",
            |cr| {
                ready_of(cr)
                    .is_some_and(|(s, r, m)| s == "False" && r == "Pending" && m.contains("not ready"))
            },
        )
        .await;
    let (_, _, message) = ready_of(&cr).unwrap();
    assert!(
        message.contains("Issuer") && message.contains("tlm") && message.contains("SecretNotFound"),
        "{message}"
    );
    assert!(!message.contains(API_KEY));
    assert_eq!(cr.status.unwrap().failure_time, None, "not a terminal failure");
    assert_eq!(orders(&env), 0);
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn the_example_is_a_cert_manager_certificate_the_api_server_accepts() {
    let env = env("cm-example").await;
    let text =
        std::fs::read_to_string(testkit::repo_root().join("examples/cert-manager-certificate.yaml")).unwrap();
    let created = testkit::create_yaml_documents(&env.client, &text, &env.ns)
        .await
        .expect("cert-manager's Certificate schema accepts the example");
    assert_eq!(created.len(), 1);
    let issuer_ref = &created[0].data["spec"]["issuerRef"];
    assert_eq!(issuer_ref["group"], "tlm.certops.dev");
    assert_eq!(issuer_ref["kind"], "ClusterIssuer");
}

#[test]
fn the_chart_grants_certificate_requests_only_when_enabled() {
    let helm = testkit::require_binary("helm").expect("helm (run `make test` to install it)");
    let chart = testkit::repo_root().join("charts/tlm-operator");
    let render = |extra: &[&str]| {
        let out = Command::new(&helm)
            .args(["template", "t"])
            .arg(&chart)
            .args(extra)
            .output()
            .expect("helm");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let off = render(&[]);
    assert!(!off.contains("cert-manager.io") && !off.contains("--cert-manager-issuer"));
    let on = render(&["--set", "certManagerIssuer.enabled=true"]);
    assert!(on.contains("--cert-manager-issuer"));
    let rules: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&on)
        .filter_map(|d| serde_json::to_value(serde_yaml::Value::deserialize(d).ok()?).ok())
        .filter(|d| d["kind"] == "ClusterRole")
        .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["apiGroups"] == json!(["cert-manager.io"]))
        .collect();
    assert_eq!(
        rules,
        [
            json!({"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests"], "verbs": ["get", "list", "watch", "patch"]}),
            json!({"apiGroups": ["cert-manager.io"], "resources": ["certificaterequests/status"], "verbs": ["patch"]}),
        ]
    );
    let scoped = render(&[
        "--set",
        "certManagerIssuer.enabled=true",
        "--set",
        "watchNamespaces={team-a}",
    ]);
    assert!(
        scoped.contains("certificaterequests/status"),
        "namespace-scoped Roles carry the rules too"
    );
    let bad = Command::new(&helm)
        .args(["template", "t"])
        .arg(&chart)
        .args(["--set", "certManagerIssuer.enabled=yes"])
        .output()
        .unwrap();
    assert!(!bad.status.success(), "the schema refuses a non-boolean");
}

/// A token kubeconfig for the chart's ServiceAccount.
async fn service_account_kubeconfig(env: &Env, sa: &str) -> (kube::Client, std::path::PathBuf) {
    use k8s_openapi::api::authentication::v1::TokenRequest;
    use k8s_openapi::api::core::v1::ServiceAccount;
    let api: kube::Api<ServiceAccount> = kube::Api::namespaced(env.client.clone(), &env.ns);
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}})).unwrap();
    let token = api
        .create_token_request(sa, &Default::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
        .expect("a token");
    let path = env.cp.write_token_kubeconfig("cm-chart-sa", &token).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&path).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    (kube::Client::try_from(config).unwrap(), path)
}

async fn allowed(client: &kube::Client, verb: &str, resource: &str, namespace: &str) -> bool {
    use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
    let review: SelfSubjectAccessReview = serde_json::from_value(json!({"spec": {"resourceAttributes": {
        "verb": verb, "resource": resource, "group": "cert-manager.io", "namespace": namespace}}}))
    .unwrap();
    kube::Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&Default::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap()
        .allowed
}

#[tokio::test]
async fn the_charts_rbac_is_enough_to_issue_a_certificate_request() {
    let env = env("cm-rbac").await;
    let helm = testkit::require_binary("helm").unwrap();
    let out = Command::new(&helm)
        .args(["install", "tlm-operator-cm"])
        .arg(testkit::repo_root().join("charts/tlm-operator"))
        .args(["-n", &env.ns, "--kubeconfig"])
        .arg(env.cp.kubeconfig_path())
        .args([
            "--wait=false",
            "--skip-crds",
            "--set",
            "certManagerIssuer.enabled=true",
        ])
        .arg(format!("--set=watchNamespaces={{{}}}", env.ns))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (sa_client, kubeconfig) = service_account_kubeconfig(&env, "tlm-operator-cm").await;
    env.issuer_for("tlm", "prof-x509").await;
    let args: Vec<String> = [
        "--namespace",
        &env.ns,
        "--watch-namespaces",
        &env.ns,
        "--lease-name",
        "tlm-operator-cm",
        "--cert-manager-issuer",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut op = testkit::OperatorProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_tlm-operator")),
        &kubeconfig,
        &env.dir.join("chart-sa.log"),
        &args,
        &[("POD_NAME", "chart-sa")],
    )
    .unwrap();
    let (request, key) = csr_for(&["rbac.example.com"]);
    env.create_request("rbac", &request, our_issuer(), json!({}))
        .await;
    env.decide_request("rbac", true).await;
    let cr = env
        .wait_request_ready("rbac", "True", "Issued", Duration::from_secs(60))
        .await;
    verify_issued(&env, &cr, &key);
    assert!(cr.annotation(ORDER).is_some(), "the annotation patch is allowed");
    assert!(env.event_reasons("rbac").await.iter().any(|r| r == "Issued"));
    assert!(!op.logs().contains("could not record event"));
    assert!(!allowed(&sa_client, "update", "certificaterequests", &env.ns).await);
    assert!(!allowed(&sa_client, "delete", "certificaterequests", &env.ns).await);
    assert!(!allowed(&sa_client, "create", "certificaterequests", &env.ns).await);
    assert!(!allowed(&sa_client, "patch", "certificates", &env.ns).await);
    op.terminate();
    env.assert_log_clean(&op, &[]);
}
