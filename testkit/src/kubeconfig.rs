//! Writes a kubeconfig for a client certificate, as kubectl and kube-rs read it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A kubeconfig with the CA, server and client credentials embedded.
pub fn render(server: &str, ca_pem: &str, cert_pem: &str, key_pem: &str, user: &str) -> String {
    let b64 = |s: &str| STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: testkit
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: testkit
  context:
    cluster: testkit
    user: {user}
current-context: testkit
",
        ca = b64(ca_pem),
        cert = b64(cert_pem),
        key = b64(key_pem),
    )
}

/// A kubeconfig that authenticates with a bearer token (e.g. a ServiceAccount's).
pub fn render_token(server: &str, ca_pem: &str, token: &str, user: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: testkit
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    token: {token}
contexts:
- name: testkit
  context:
    cluster: testkit
    user: {user}
current-context: testkit
",
        ca = STANDARD.encode(ca_pem.as_bytes()),
    )
}
