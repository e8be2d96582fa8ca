//! Writes kubeconfigs, as kubectl and kube-rs read them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A kubeconfig for one cluster and one user whose credentials are given as YAML lines.
fn kubeconfig(server: &str, ca_pem: &str, user: &str, credentials: &str) -> String {
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
{credentials}
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

/// A kubeconfig with a client certificate and key embedded.
pub fn render(server: &str, ca_pem: &str, cert_pem: &str, key_pem: &str, user: &str) -> String {
    let credentials = format!(
        "    client-certificate-data: {}\n    client-key-data: {}",
        STANDARD.encode(cert_pem.as_bytes()),
        STANDARD.encode(key_pem.as_bytes())
    );
    kubeconfig(server, ca_pem, user, &credentials)
}

/// A kubeconfig that authenticates with a bearer token (e.g. a ServiceAccount's).
pub fn render_token(server: &str, ca_pem: &str, token: &str, user: &str) -> String {
    kubeconfig(server, ca_pem, user, &format!("    token: {token}"))
}
