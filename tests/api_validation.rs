//! The CRDs on a real kube-apiserver: valid examples are accepted and read back, invalid objects
//! are refused with the message of the rule that fired.

use kube::api::{Api, DynamicObject};
use kube::discovery::pinned_kind;
use testkit::{create_yaml_documents, install_crds, shared, unique_namespace};

async fn setup(prefix: &str) -> (kube::Client, String) {
    let cp = shared().await.expect("control plane");
    let client = cp.client().await.expect("client");
    install_crds(&client).await.expect("install CRDs");
    let ns = unique_namespace(&client, prefix).await.expect("namespace");
    (client, ns)
}

#[tokio::test]
async fn examples_are_accepted_and_read_back() {
    let (client, ns) = setup("examples").await;
    let dir = testkit::repo_root().join("examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut kinds = Vec::new();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        if text.contains("apiVersion: cert-manager.io/") {
            // Needs cert-manager's CRDs: tests/cert_manager_issuer.rs applies it.
            continue;
        }
        let created = create_yaml_documents(&client, &text, &ns)
            .await
            .unwrap_or_else(|e| panic!("{} refused: {e:#}", path.display()));
        for obj in created {
            let types = obj.types.clone().unwrap();
            let gvk = kube::core::GroupVersionKind::try_from(&types).unwrap();
            let (resource, caps) = pinned_kind(&client, &gvk).await.unwrap();
            let api: Api<DynamicObject> = match caps.scope {
                kube::discovery::Scope::Namespaced => Api::namespaced_with(client.clone(), &ns, &resource),
                kube::discovery::Scope::Cluster => Api::all_with(client.clone(), &resource),
            };
            let name = obj.metadata.name.clone().unwrap();
            let read = api.get(&name).await.unwrap();
            assert_eq!(read.data["spec"], obj.data["spec"], "{name} reads back as stored");
            kinds.push(types.kind);
        }
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        ["CTWatch", "Certificate", "ClusterIssuer", "Issuer"],
        "an example for every kind"
    );
}

#[tokio::test]
async fn schema_defaults_are_applied() {
    let (client, ns) = setup("defaults").await;
    let created = create_yaml_documents(
        &client,
        "apiVersion: tlm.certops.dev/v1alpha1
kind: Certificate
metadata: {name: minimal}
spec:
  secretName: minimal-tls
  issuerRef: {name: tlm}
  dnsNames: [app.example.com]
---
apiVersion: tlm.certops.dev/v1alpha1
kind: CTWatch
metadata: {name: minimal}
spec:
  domains: [example.com]
",
        &ns,
    )
    .await
    .unwrap();
    let cert = &created[0].data["spec"];
    assert_eq!(cert["privateKey"]["algorithm"], "ECDSA");
    assert_eq!(cert["privateKey"]["encoding"], "PKCS1");
    assert_eq!(cert["privateKey"]["rotationPolicy"], "Always");
    assert_eq!(cert["issuerRef"]["kind"], "Issuer");
    let watch = &created[1].data["spec"];
    assert_eq!(watch["interval"], "1h");
    assert_eq!(watch["treatManagedAsExpected"], true);
    assert_eq!(watch["matchWildcards"], true);
    assert_eq!(
        watch["source"]["certSpotter"]["url"],
        "https://api.certspotter.com"
    );
}

const CERT_HEAD: &str = "apiVersion: tlm.certops.dev/v1alpha1
kind: Certificate
metadata: {name: bad}
spec:
  issuerRef: {name: tlm}
";

fn cert(body: &str) -> String {
    format!("{CERT_HEAD}{body}")
}

fn ctwatch(body: &str) -> String {
    format!("apiVersion: tlm.certops.dev/v1alpha1\nkind: CTWatch\nmetadata: {{name: bad}}\nspec:\n{body}")
}

fn issuer(tlm: &str) -> String {
    format!(
        "apiVersion: tlm.certops.dev/v1alpha1\nkind: Issuer\nmetadata: {{name: bad}}\nspec:\n  tlm:\n{tlm}"
    )
}

fn issuer_spec(spec: &str) -> String {
    format!("apiVersion: tlm.certops.dev/v1alpha1\nkind: Issuer\nmetadata: {{name: bad}}\nspec:\n{spec}")
}

const GOOD_CC: &str = "  certCentral:\n    apiKeySecretRef: {name: k, key: api-key}\n    productNameId: ssl_plus\n    organizationId: 12345\n";

const GOOD_QUALYS: &str = "  qualysCertView:\n    url: https://gateway.qg1.apps.qualys.com\n    credentialsSecretRef: {name: q}\n    organizationId: 525858\n    productNameId: ssl_plus\n    intermediateCA: {commonName: DigiCert CA}\n    approverUserNames: [doe_john]\n";

const GOOD_TLM: &str =
    "    url: https://one.digicert.com\n    apiKeySecretRef: {name: k, key: api-key}\n    profileId: p1\n";

/// (what is wrong, object, words the refusal must contain)
fn invalid_objects() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "no CN and no SAN",
            cert("  secretName: s\n"),
            "needs a commonName or at least one of dnsNames",
        ),
        (
            "empty SAN lists only",
            cert("  secretName: s\n  dnsNames: []\n"),
            "needs a commonName or at least one of dnsNames",
        ),
        (
            "renewBefore and renewBeforePercentage",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  renewBefore: 1h\n  renewBeforePercentage: 30\n",
            ),
            "mutually exclusive",
        ),
        (
            "duration under 1h",
            cert("  secretName: s\n  commonName: a.example.com\n  duration: 30m\n"),
            "duration must be at least 1h",
        ),
        (
            "renewBefore not shorter than duration",
            cert("  secretName: s\n  commonName: a.example.com\n  duration: 24h\n  renewBefore: 48h\n"),
            "renewBefore must be shorter than duration",
        ),
        (
            "duration not a Go duration",
            cert("  secretName: s\n  commonName: a.example.com\n  duration: 90 days\n"),
            "spec.duration",
        ),
        (
            "RSA 1024",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  privateKey: {algorithm: RSA, size: 1024}\n",
            ),
            "RSA keys must be 2048, 3072 or 4096 bits",
        ),
        (
            "ECDSA 521",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  privateKey: {algorithm: ECDSA, size: 521}\n",
            ),
            "ECDSA keys must be 256 (P-256) or 384 (P-384) bits",
        ),
        (
            "Ed25519 with a size",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  privateKey: {algorithm: Ed25519, size: 256}\n",
            ),
            "Ed25519 keys have a fixed size",
        ),
        (
            "unknown key algorithm",
            cert("  secretName: s\n  commonName: a.example.com\n  privateKey: {algorithm: DSA}\n"),
            "supported values: \"RSA\", \"ECDSA\", \"Ed25519\"",
        ),
        (
            "wildcard not leftmost",
            cert("  secretName: s\n  dnsNames: [a.*.example.com]\n"),
            "'*' is only allowed as the whole leftmost label",
        ),
        (
            "partial wildcard label",
            cert("  secretName: s\n  dnsNames: ['w*.example.com']\n"),
            "'*' is only allowed as the whole leftmost label",
        ),
        (
            "DNS name with underscore",
            cert("  secretName: s\n  dnsNames: [bad_name.example.com]\n"),
            "dnsNames must be DNS names",
        ),
        (
            "bad IP address",
            cert("  secretName: s\n  ipAddresses: [10.0.0.300]\n"),
            "ipAddresses must be IPv4 or IPv6 addresses",
        ),
        (
            "bad email",
            cert("  secretName: s\n  emailAddresses: [not-an-email]\n"),
            "emailAddresses must be email addresses",
        ),
        (
            "uppercase secretName",
            cert("  secretName: Web_TLS\n  commonName: a.example.com\n"),
            "secretName must be a valid Secret name",
        ),
        (
            "issuerRef kind",
            cert("  secretName: s\n  commonName: a.example.com\n  issuerRef: {name: x, kind: Vault}\n")
                .replace("  issuerRef: {name: tlm}\n", ""),
            "supported values: \"Issuer\", \"ClusterIssuer\"",
        ),
        (
            "secretTemplate reserved annotation",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  secretTemplate:\n    annotations: {tlm.certops.dev/serial: x}\n",
            ),
            "secretTemplate.annotations may not use the tlm.certops.dev/ prefix",
        ),
        (
            "secretTemplate label key that is not a label key",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  secretTemplate:\n    labels: {\"team name\": x}\n",
            ),
            "secretTemplate.labels keys must be label keys",
        ),
        (
            "secretTemplate label value that is not a label value",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  secretTemplate:\n    labels: {team: \"a b/c\"}\n",
            ),
            "secretTemplate.labels values must be",
        ),
        (
            "secretTemplate annotation key that is not a key",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  secretTemplate:\n    annotations: {\"-bad-\": x}\n",
            ),
            "secretTemplate.annotations keys must be annotation keys",
        ),
        (
            "non-ASCII email",
            cert("  secretName: s\n  emailAddresses: [\"jos\u{e9}@example.com\"]\n"),
            "in ASCII",
        ),
        (
            "non-ASCII URI",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  uris: [\"https://example.com/caf\u{e9}\"]\n",
            ),
            "in ASCII",
        ),
        (
            "common name defaulted from a SAN over 64 characters",
            cert(&format!(
                "  secretName: s\n  dnsNames: [{}.example.com]\n",
                "a".repeat(60)
            )),
            "which may be at most 64 characters",
        ),
        (
            "secretTemplate reserved label",
            cert(
                "  secretName: s\n  commonName: a.example.com\n  secretTemplate:\n    labels: {tlm.certops.dev/owned: x}\n",
            ),
            "secretTemplate.labels may not use the tlm.certops.dev/ prefix",
        ),
        (
            "CN over 64 chars",
            cert(&format!(
                "  secretName: s\n  commonName: {}.example.com\n",
                "a".repeat(60)
            )),
            "spec.commonName: Too long",
        ),
        (
            "CTWatch without domains",
            ctwatch("  domains: []\n"),
            "spec.domains: Invalid value: 0",
        ),
        (
            "CTWatch domain with scheme",
            ctwatch("  domains: [https://example.com]\n"),
            "without a scheme",
        ),
        (
            "CTWatch wildcard domain",
            ctwatch("  domains: ['*.example.com']\n"),
            "set matchWildcards: true",
        ),
        (
            "CTWatch uppercase domain",
            ctwatch("  domains: [Example.com]\n"),
            "domains must be lowercase",
        ),
        (
            "CTWatch single-label domain",
            ctwatch("  domains: [com]\n"),
            "at least two labels",
        ),
        (
            "CTWatch interval under 1m",
            ctwatch("  domains: [example.com]\n  interval: 30s\n"),
            "interval must be at least 1m",
        ),
        (
            "CTWatch over 100 domains",
            ctwatch(&format!(
                "  domains: [{}]\n",
                (0..101)
                    .map(|i| format!("d{i}.example.com"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            "must have at most 100 items",
        ),
        (
            "CTWatch expected issuer empty",
            ctwatch("  domains: [example.com]\n  expectedIssuers: [{}]\n"),
            "needs a name or a pubkeySha256",
        ),
        (
            "Issuer http URL",
            issuer(&GOOD_TLM.replace("https://one.digicert.com", "http://tlm.example.com")),
            "plain http is only allowed for loopback",
        ),
        (
            "Issuer not a URL",
            issuer(&GOOD_TLM.replace("https://one.digicert.com", "one.digicert.com")),
            "url must be an absolute https URL",
        ),
        (
            "Issuer empty profileId",
            issuer(&GOOD_TLM.replace("profileId: p1", "profileId: ''")),
            "spec.tlm.profileId",
        ),
        (
            "Issuer secret ref without key",
            issuer(&GOOD_TLM.replace("{name: k, key: api-key}", "{name: k}")),
            "spec.tlm.apiKeySecretRef.key: Required value",
        ),
        (
            "Issuer with both tlm and certCentral",
            format!("{}{GOOD_CC}", issuer(GOOD_TLM)),
            "exactly one backend per issuer",
        ),
        (
            "Issuer with no backend",
            issuer_spec("  revokeOnDelete: true\n"),
            "exactly one backend per issuer",
        ),
        (
            "ClusterIssuer with both tlm and certCentral",
            format!("{}{GOOD_CC}", issuer(GOOD_TLM)).replace("kind: Issuer", "kind: ClusterIssuer"),
            "exactly one backend per issuer",
        ),
        (
            "CertCentral http URL",
            issuer_spec(&format!("{GOOD_CC}    url: http://www.digicert.com\n")),
            "plain http is only allowed for loopback",
        ),
        (
            "CertCentral product with spaces",
            issuer_spec(&GOOD_CC.replace("ssl_plus", "'ssl plus'")),
            "productNameId must be a CertCentral product name id",
        ),
        (
            "CertCentral validity with days and years",
            issuer_spec(&format!("{GOOD_CC}    validity: {{days: 30, years: 1}}\n")),
            "validity needs exactly one of days or years",
        ),
        (
            "CertCentral without API key Secret",
            issuer_spec(&GOOD_CC.replace("    apiKeySecretRef: {name: k, key: api-key}\n", "")),
            "spec.certCentral.apiKeySecretRef: Required value",
        ),
        (
            "Issuer with both certCentral and qualysCertView",
            issuer_spec(&format!("{GOOD_CC}{GOOD_QUALYS}")),
            "exactly one backend per issuer",
        ),
        (
            "Qualys with revokeOnDelete",
            issuer_spec(&format!("  revokeOnDelete: true\n{GOOD_QUALYS}")),
            "Qualys CertView offers no revocation API",
        ),
        (
            "Qualys intermediateCA naming nothing",
            issuer_spec(&GOOD_QUALYS.replace("{commonName: DigiCert CA}", "{}")),
            "intermediateCA needs at least one of certhash, commonName or serialNumber",
        ),
        (
            "Qualys without approvers",
            issuer_spec(&GOOD_QUALYS.replace("[doe_john]", "[]")),
            "spec.qualysCertView.approverUserNames",
        ),
        (
            "Qualys validity with days and a date",
            issuer_spec(&format!(
                "{GOOD_QUALYS}    validity: {{days: 30, customExpirationDate: '2027-06-30'}}\n"
            )),
            "validity needs exactly one of days, years or customExpirationDate",
        ),
        (
            "Qualys expiration not a date",
            issuer_spec(&format!(
                "{GOOD_QUALYS}    validity: {{customExpirationDate: soon}}\n"
            )),
            "customExpirationDate must be a date",
        ),
        (
            "Qualys signature hash unknown",
            issuer_spec(&format!("{GOOD_QUALYS}    signatureHash: SHA-1\n")),
            "Unsupported value: \"SHA-1\"",
        ),
        (
            "Qualys http URL",
            issuer_spec(&GOOD_QUALYS.replace("https://gateway", "http://gateway")),
            "plain http is only allowed for loopback",
        ),
        (
            "Issuer caBundle not PEM",
            issuer(&format!("{GOOD_TLM}    caBundle: hello\n")),
            "caBundle must contain at least one PEM certificate",
        ),
    ]
}

#[tokio::test]
async fn invalid_objects_are_refused_with_the_rule_message() {
    let (client, ns) = setup("invalid").await;
    let cases = invalid_objects();
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (what, yaml, expected) in &cases {
        match create_yaml_documents(&client, yaml, &ns).await {
            Ok(_) => failures.push(format!(
                "{what}: accepted, expected refusal containing {expected:?}"
            )),
            Err(e) => {
                let msg = format!("{e:#}");
                if !msg.contains(expected) {
                    failures.push(format!(
                        "{what}: refused with {msg:?}, expected it to contain {expected:?}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn certcentral_issuer_gets_the_default_url() {
    let (client, ns) = setup("cc-default").await;
    let yaml = issuer_spec(GOOD_CC).replace("name: bad", "name: cc");
    create_yaml_documents(&client, &yaml, &ns).await.unwrap();
    let api: Api<tlm_operator::api::Issuer> = Api::namespaced(client.clone(), &ns);
    let read = api.get("cc").await.unwrap();
    assert!(read.spec.tlm.is_none());
    let cc = read.spec.cert_central.expect("certCentral");
    assert_eq!(cc.url, "https://www.digicert.com");
    assert_eq!(cc.organization_id, Some(12345));
}

#[tokio::test]
async fn qualys_issuer_gets_its_default_credential_keys() {
    let (client, ns) = setup("q-default").await;
    let yaml = issuer_spec(GOOD_QUALYS).replace("name: bad", "name: q");
    create_yaml_documents(&client, &yaml, &ns).await.unwrap();
    let api: Api<tlm_operator::api::Issuer> = Api::namespaced(client.clone(), &ns);
    let q = api
        .get("q")
        .await
        .unwrap()
        .spec
        .qualys_cert_view
        .expect("qualysCertView");
    assert_eq!(
        (
            q.credentials_secret_ref.username_key.as_str(),
            q.credentials_secret_ref.password_key.as_str()
        ),
        ("username", "password")
    );
    assert_eq!(q.intermediate_ca.common_name.as_deref(), Some("DigiCert CA"));
}

#[tokio::test]
async fn loopback_http_issuer_is_accepted_for_the_simulator() {
    let (client, ns) = setup("loopback").await;
    for url in [
        "http://127.0.0.1:8443",
        "http://localhost:9000",
        "http://[::1]:8443",
    ] {
        let yaml = issuer(&GOOD_TLM.replace("https://one.digicert.com", url))
            .replace("name: bad", "generateName: sim-");
        create_yaml_documents(&client, &yaml, &ns)
            .await
            .unwrap_or_else(|e| panic!("{url} refused: {e:#}"));
    }
}
