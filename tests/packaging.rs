//! The Helm chart and deploy/ manifests on the real kube-apiserver: lint, render, install, then
//! run the operator with exactly the chart's ServiceAccount permissions and issue a certificate
//! (RBAC is sufficient), and check what the ServiceAccount may not do (RBAC is not excessive).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::Env;
use testkit::{OperatorProcess, require_binary, unique_namespace};

fn root() -> PathBuf {
    testkit::repo_root()
}

fn chart() -> PathBuf {
    root().join("charts/tlm-operator")
}

fn run(bin: &str, args: &[&str]) -> Output {
    let path = require_binary(bin).expect("control-plane binaries (run `make test` to install them)");
    Command::new(path)
        .args(args)
        .current_dir(root())
        .output()
        .expect("spawn")
}

fn ok(bin: &str, args: &[&str]) -> String {
    let out = run(bin, args);
    assert!(
        out.status.success(),
        "{bin} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn docs(yaml: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|d| serde_yaml::Value::deserialize(d).ok())
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_value(v).unwrap())
        .collect()
}

fn of_kind<'a>(docs: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn grants_secrets(rules: &serde_json::Value) -> bool {
    rules
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["resources"].as_array().unwrap().iter().any(|x| x == "secrets"))
}

#[test]
fn chart_lints_renders_and_refuses_bad_values() {
    let chart = chart();
    let chart = chart.to_str().unwrap();
    ok("helm", &["lint", chart]);
    ok(
        "helm",
        &["lint", chart, "--set", "watchNamespaces={team-a,team-b}"],
    );
    for (bad, message) in [
        ("replicaCount=0", "replicaCount"),
        ("log.format=xml", "log/format"),
        ("metrics.port=80", "metrics/port"),
        ("watchNamespaces={Bad_NS}", "watchNamespaces"),
        ("surprise=1", "additional properties"),
    ] {
        let out = run("helm", &["template", "t", chart, "--set", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad} was accepted");
        assert!(stderr.contains(message), "{bad}: {stderr}");
    }

    let default = docs(&ok("helm", &["template", "t", chart, "-n", "ops"]));
    let deployment = of_kind(&default, "Deployment")[0];
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(
        container["securityContext"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(
        container["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--leader-elect")
    );
    assert!(pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"].is_array());
    assert_eq!(of_kind(&default, "PodDisruptionBudget").len(), 1);
    assert_eq!(of_kind(&default, "Service").len(), 1);
    assert!(
        of_kind(&default, "ServiceMonitor").is_empty(),
        "ServiceMonitor is optional"
    );
    let cluster_role = of_kind(&default, "ClusterRole")[0];
    assert!(
        grants_secrets(&cluster_role["rules"]),
        "cluster-wide mode reads Secrets everywhere"
    );

    let scoped = docs(&ok(
        "helm",
        &[
            "template",
            "t",
            chart,
            "-n",
            "ops",
            "--set",
            "watchNamespaces={team-a,team-b}",
        ],
    ));
    let cluster_role = of_kind(&scoped, "ClusterRole")[0];
    assert!(
        !grants_secrets(&cluster_role["rules"]),
        "namespace-scoped mode has no cluster-wide Secret access"
    );
    let namespaces: Vec<&str> = of_kind(&scoped, "Role")
        .iter()
        .filter(|r| grants_secrets(&r["rules"]))
        .map(|r| r["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(
        namespaces,
        ["team-a", "team-b", "ops"],
        "Secrets only in watched namespaces and the ClusterIssuer namespace"
    );
    let args = of_kind(&scoped, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"].clone();
    assert!(
        args.as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--watch-namespaces=team-a,team-b")
    );
    let monitor = docs(&ok(
        "helm",
        &[
            "template",
            "t",
            chart,
            "--set",
            "metrics.serviceMonitor.enabled=true",
        ],
    ));
    assert_eq!(of_kind(&monitor, "ServiceMonitor").len(), 1);
}

#[test]
fn deploy_manifests_match_the_chart_defaults() {
    let rendered = ok(
        "helm",
        &[
            "template",
            "tlm-operator",
            chart().to_str().unwrap(),
            "--namespace",
            "tlm-operator",
        ],
    );
    let on_disk = std::fs::read_to_string(root().join("deploy/tlm-operator.yaml")).unwrap();
    assert!(
        rendered == on_disk,
        "deploy/tlm-operator.yaml is stale; run `make manifests`"
    );
}

async fn service_account_client(
    env: &Env,
    ns: &str,
    sa: &str,
    kubeconfig_name: &str,
) -> (kube::Client, PathBuf) {
    let api: Api<ServiceAccount> = Api::namespaced(env.client.clone(), ns);
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}})).unwrap();
    let token = api
        .create_token_request(sa, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
        .expect("a token");
    let path = env.cp.write_token_kubeconfig(kubeconfig_name, &token).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    (kube::Client::try_from(config).unwrap(), path)
}

async fn allowed(
    client: &kube::Client,
    verb: &str,
    resource: &str,
    group: &str,
    namespace: Option<&str>,
) -> bool {
    let review: SelfSubjectAccessReview = serde_json::from_value(json!({
        "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group, "namespace": namespace.unwrap_or("")}}
    }))
    .unwrap();
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    api.create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap()
        .allowed
}

async fn issue_as_operator(
    env: &Env,
    kubeconfig: &Path,
    release_ns: &str,
    app_ns: &str,
    extra: &[&str],
) -> OperatorProcess {
    let mut args: Vec<String> = vec!["--namespace".into(), release_ns.into(), "--leader-elect".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let mut op = OperatorProcess::start(
        Path::new(env!("CARGO_BIN_EXE_tlm-operator")),
        kubeconfig,
        &env.dir.join(format!("operator-{release_ns}.log")),
        &args,
        &[("POD_NAME", "chart-sa")],
    )
    .unwrap();
    op.wait_ready(Duration::from_secs(60)).await.unwrap();
    let ns_env = Env {
        cp: env.cp,
        client: env.client.clone(),
        ns: app_ns.to_string(),
        sim: tlm_sim::Sim::start(Default::default()).await.unwrap(),
        dir: env.dir.clone(),
    };
    ns_env.issuer_for("tlm", "prof-x509").await;
    ns_env
        .create_certificate(
            "web",
            json!({"secretName": "web-tls", "issuerRef": {"name": "tlm"}, "dnsNames": ["web.example.com"]}),
        )
        .await;
    ns_env.wait_ready("web", 1, Duration::from_secs(90)).await;
    ns_env.verify_secret_with_openssl("web-tls").await;
    op
}

#[tokio::test]
async fn installed_chart_rbac_is_sufficient_and_not_excessive() {
    let env = Env::new("helm-cluster").await;
    let release_ns = env.ns.clone();
    let kubeconfig = env.cp.kubeconfig_path().to_str().unwrap().to_string();
    ok(
        "helm",
        &[
            "install",
            "tlm-operator",
            chart().to_str().unwrap(),
            "-n",
            &release_ns,
            "--kubeconfig",
            &kubeconfig,
            "--wait=false",
        ],
    );
    let (sa_client, sa_kubeconfig) =
        service_account_client(&env, &release_ns, "tlm-operator", "chart-sa").await;
    let app_ns = unique_namespace(&env.client, "helm-app").await.unwrap();
    let mut op = issue_as_operator(&env, &sa_kubeconfig, &release_ns, &app_ns, &[]).await;
    // Not excessive: nothing beyond what the operator uses.
    assert!(!allowed(&sa_client, "create", "pods", "", Some(&app_ns)).await);
    assert!(!allowed(&sa_client, "delete", "namespaces", "", None).await);
    assert!(
        !allowed(
            &sa_client,
            "update",
            "clusterroles",
            "rbac.authorization.k8s.io",
            None
        )
        .await
    );
    assert!(
        !allowed(
            &sa_client,
            "delete",
            "certificates",
            "tlm.certops.dev",
            Some(&app_ns)
        )
        .await
    );
    assert!(
        !allowed(
            &sa_client,
            "patch",
            "leases",
            "coordination.k8s.io",
            Some(&app_ns)
        )
        .await,
        "Leases only in the release namespace"
    );
    assert!(
        allowed(
            &sa_client,
            "patch",
            "leases",
            "coordination.k8s.io",
            Some(&release_ns)
        )
        .await
    );
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn namespace_scoped_chart_touches_only_watched_namespaces() {
    let env = Env::new("helm-scoped").await;
    let release_ns = env.ns.clone();
    let watched = unique_namespace(&env.client, "helm-watched").await.unwrap();
    let other = unique_namespace(&env.client, "helm-other").await.unwrap();
    let kubeconfig = env.cp.kubeconfig_path().to_str().unwrap().to_string();
    ok(
        "helm",
        &[
            "install",
            "scoped",
            chart().to_str().unwrap(),
            "-n",
            &release_ns,
            "--kubeconfig",
            &kubeconfig,
            "--set",
            &format!("watchNamespaces={{{watched}}}"),
        ],
    );
    let (sa_client, sa_kubeconfig) =
        service_account_client(&env, &release_ns, "scoped-tlm-operator", "scoped-sa").await;
    let mut op = issue_as_operator(
        &env,
        &sa_kubeconfig,
        &release_ns,
        &watched,
        &["--watch-namespaces", &watched],
    )
    .await;
    assert!(allowed(&sa_client, "list", "secrets", "", Some(&watched)).await);
    assert!(
        !allowed(&sa_client, "list", "secrets", "", Some(&other)).await,
        "no Secrets outside watched namespaces"
    );
    assert!(!allowed(&sa_client, "get", "secrets", "", Some(&other)).await);
    assert!(
        !allowed(&sa_client, "list", "secrets", "", None).await,
        "no cluster-wide Secret access"
    );
    assert!(
        !allowed(
            &sa_client,
            "list",
            "certificates",
            "tlm.certops.dev",
            Some(&other)
        )
        .await
    );
    let denied = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(sa_client.clone(), &other)
        .list(&Default::default())
        .await;
    assert!(
        matches!(denied, Err(kube::Error::Api(ref e)) if e.code == 403),
        "a real request is refused too"
    );
    op.terminate();
    env.assert_log_clean(&op, &[]);
}

#[tokio::test]
async fn deploy_kustomization_is_accepted_and_passes_restricted_pod_security() {
    let env = Env::new("deploy").await;
    let kubeconfig = env.cp.kubeconfig_path().to_str().unwrap().to_string();
    // The namespace must exist for a server-side dry run of what goes into it; the warn label
    // makes the PodSecurity admission report any violation of the restricted profile.
    ok(
        "kubectl",
        &[
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "-f",
            "deploy/namespace.yaml",
        ],
    );
    ok(
        "kubectl",
        &[
            "--kubeconfig",
            &kubeconfig,
            "label",
            "namespace",
            "tlm-operator",
            "pod-security.kubernetes.io/warn=restricted",
            "--overwrite",
        ],
    );
    let out = run(
        "kubectl",
        &[
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "--dry-run=server",
            "-k",
            "deploy/",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "deploy/ refused:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("deployment.apps/tlm-operator") && stdout.contains("(server dry run)"),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("customresourcedefinition.apiextensions.k8s.io")
            .count(),
        4,
        "{stdout}"
    );
    assert!(!stderr.contains("would violate PodSecurity"), "{stderr}");
    // crds/ is a plain directory of CRDs: `kubectl apply -f crds/` works as users expect.
    let out = run(
        "kubectl",
        &[
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "--dry-run=server",
            "-f",
            "crds/",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "crds/ refused:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout
            .matches("customresourcedefinition.apiextensions.k8s.io")
            .count(),
        4,
        "{stdout}"
    );
}
