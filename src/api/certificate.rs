//! `Certificate`: a key generated in the cluster and a certificate for it issued by TLM, kept in
//! a `kubernetes.io/tls` Secret and renewed before it expires.

use kube::core::Duration;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::certificate_parts::{OutputFormat, PrivateKeySpec, SecretTemplate, Subject};
use super::certificate_status::CertificateStatus;

/// DNS name, optionally with a wildcard as the whole leftmost label.
const DNS_NAME_RE: &str =
    r"^(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$";
/// A Secret name: a DNS-1123 subdomain.
const SECRET_NAME_RE: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// Desired state of a Certificate.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tlm.certops.dev",
    version = "v1alpha1",
    kind = "Certificate",
    namespaced,
    status = "CertificateStatus",
    shortname = "tlmcert",
    category = "tlm",
    doc = "A Certificate asks for a private key generated in the cluster and a certificate for it issued by DigiCert Trust Lifecycle Manager, stored in a kubernetes.io/tls Secret and renewed before expiry.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Secret", type_ = "string", json_path = ".spec.secretName"),
    printcolumn(
        name = "Issuer",
        type_ = "string",
        json_path = ".spec.issuerRef.name",
        priority = 1
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = 1
    ),
    printcolumn(
        name = "Serial",
        type_ = "string",
        json_path = ".status.serialNumber",
        priority = 1
    ),
    // A string, not a date: kubectl renders a future date as `<invalid>`.
    printcolumn(name = "Expires", type_ = "string", json_path = ".status.notAfter"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.commonName) || (has(self.dnsNames) && size(self.dnsNames) > 0) || (has(self.ipAddresses) && size(self.ipAddresses) > 0) || (has(self.emailAddresses) && size(self.emailAddresses) > 0) || (has(self.uris) && size(self.uris) > 0)").message("a Certificate needs a commonName or at least one of dnsNames, ipAddresses, emailAddresses or uris"))]
#[x_kube(validation = Rule::new("has(self.commonName) || ((has(self.dnsNames) && size(self.dnsNames) > 0) ? size(self.dnsNames[0]) <= 64 : ((has(self.ipAddresses) && size(self.ipAddresses) > 0) || ((has(self.emailAddresses) && size(self.emailAddresses) > 0) ? size(self.emailAddresses[0]) <= 64 : (!has(self.uris) || size(self.uris) == 0 || size(self.uris[0]) <= 64))))").message("without commonName the first SAN becomes the certificate's common name, which may be at most 64 characters: set a commonName of at most 64 characters or list a shorter name first"))]
#[x_kube(validation = Rule::new("!(has(self.renewBefore) && has(self.renewBeforePercentage))").message("renewBefore and renewBeforePercentage are mutually exclusive; set at most one"))]
#[x_kube(validation = Rule::new("!has(self.renewBefore) || !has(self.duration) || duration(self.renewBefore) < duration(self.duration)").message("renewBefore must be shorter than duration"))]
pub struct CertificateSpec {
    /// Name of the `kubernetes.io/tls` Secret the key and certificate are written to, in the
    /// Certificate's namespace. The operator creates and owns it.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new(format!("self.matches(r'{SECRET_NAME_RE}')")).message("secretName must be a valid Secret name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"))]
    pub secret_name: String,

    /// The Issuer or ClusterIssuer that obtains the certificate.
    pub issuer_ref: IssuerRef,

    /// Subject common name. Optional when SANs are given; at most 64 characters (X.509 limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub common_name: Option<String>,

    /// DNS subject alternative names. A wildcard is allowed only as the whole leftmost label
    /// (`*.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 253)))]
    #[x_kube(validation = Rule::new(format!("self.all(n, n.matches(r'{DNS_NAME_RE}'))")).message("dnsNames must be DNS names such as app.example.com; '*' is only allowed as the whole leftmost label (*.example.com)"))]
    pub dns_names: Option<Vec<String>>,

    /// IP address subject alternative names (IPv4 or IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 45)))]
    #[x_kube(validation = Rule::new("self.all(ip, isIP(ip))").message("ipAddresses must be IPv4 or IPv6 addresses such as 10.0.0.1 or 2001:db8::1"))]
    pub ip_addresses: Option<Vec<String>>,

    /// Email subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 320)))]
    // ASCII only: a certificate carries emails as IA5String.
    #[x_kube(validation = Rule::new(r"self.all(e, e.matches('^[!-?A-~]+@[!-?A-~]+\\.[!-?A-~]+$'))").message("emailAddresses must be email addresses such as ops@example.com, in ASCII (certificates carry them as IA5String)"))]
    pub email_addresses: Option<Vec<String>>,

    /// URI subject alternative names, e.g. SPIFFE IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), inner(length(max = 2048)))]
    #[x_kube(validation = Rule::new("self.all(u, isURL(u) && u.matches('^[!-~]+$'))").message("uris must be absolute URIs such as spiffe://cluster.local/ns/app/sa/web, in ASCII (percent-encode anything else; certificates carry them as IA5String)"))]
    pub uris: Option<Vec<String>>,

    /// Further subject fields.
    // Boxed, like the other rarely set parts: the Certificate cache holds every object's inline
    // size, and an absent box costs 8 bytes where an absent Subject cost its whole width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Box<Subject>>,

    /// Requested lifetime of the certificate as a Go duration (e.g. `2160h` for 90 days), at
    /// least `1h`. Sent to TLM in whole days (rounded up); the profile must allow overriding
    /// validity. When unset, the Issuer's `validity` or the profile's own applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 64),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
    )]
    #[x_kube(validation = Rule::new("duration(self) >= duration('1h')").message("duration must be at least 1h"))]
    pub duration: Option<Duration>,

    /// How long before expiry to renew, as a Go duration (e.g. `360h`); at least `5m` and
    /// shorter than `duration`. Exclusive with `renewBeforePercentage`. When neither is set, the
    /// certificate is renewed at 2/3 of its issued lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 64),
        regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")
    )]
    #[x_kube(validation = Rule::new("duration(self) >= duration('5m')").message("renewBefore must be at least 5m"))]
    pub renew_before: Option<Duration>,

    /// Renew when this percentage of the issued lifetime remains (1-99). Exclusive with
    /// `renewBefore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 99))]
    pub renew_before_percentage: Option<i32>,

    /// The private key: algorithm, size, encoding in the Secret, and whether a renewal makes a
    /// new one.
    #[serde(default)]
    pub private_key: PrivateKeySpec,

    /// Labels and annotations copied onto the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<Box<SecretTemplate>>,

    /// Extra encodings written to the Secret beside `tls.crt`/`tls.key`: `CombinedPEM`
    /// (`tls-combined.pem`: key then chain), `DER` (`key.der`), `PKCS7` (`tls.p7c`: the chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(merge_strategy = ListMerge::Set)]
    #[schemars(length(max = 3))]
    pub additional_output_formats: Option<Vec<OutputFormat>>,

    /// TLM seat that owns this certificate; overrides the Issuer's `seatId`. Defaults to the
    /// common name or first DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub seat_id: Option<String>,

    /// Revoke the current certificate in TLM (reason `cessation_of_operation`) when this
    /// Certificate is deleted. Overrides the Issuer's `revokeOnDelete`; off by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_on_delete: Option<bool>,
}

/// Reference to the Issuer or ClusterIssuer to use.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Name of the Issuer (same namespace) or ClusterIssuer.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// `Issuer` or `ClusterIssuer`.
    #[serde(default)]
    pub kind: IssuerKind,
}

/// Kinds of issuer a Certificate may reference.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IssuerKind {
    #[default]
    Issuer,
    ClusterIssuer,
}

impl CertificateSpec {
    /// The common name a request carries: the spec's, else the first DNS name, IP, email or URI
    /// (issuing services usually require one).
    pub fn request_common_name(&self) -> Option<String> {
        self.common_name
            .clone()
            .or_else(|| self.dns_names.as_ref().and_then(|v| v.first().cloned()))
            .or_else(|| self.ip_addresses.as_ref().and_then(|v| v.first().cloned()))
            .or_else(|| self.email_addresses.as_ref().and_then(|v| v.first().cloned()))
            .or_else(|| self.uris.as_ref().and_then(|v| v.first().cloned()))
    }

    /// A minimal spec for unit tests: these DNS names, Issuer `issuer`, defaults elsewhere.
    #[cfg(test)]
    pub(crate) fn for_tests(issuer: &str, dns: &[&str]) -> Self {
        CertificateSpec {
            secret_name: "s".into(),
            issuer_ref: IssuerRef {
                name: issuer.into(),
                kind: IssuerKind::Issuer,
            },
            common_name: None,
            dns_names: Some(dns.iter().map(|s| s.to_string()).collect()),
            ip_addresses: None,
            email_addresses: None,
            uris: None,
            subject: None,
            duration: None,
            renew_before: None,
            renew_before_percentage: None,
            private_key: PrivateKeySpec::default(),
            secret_template: None,
            additional_output_formats: None,
            seat_id: None,
            revoke_on_delete: None,
        }
    }
}

#[cfg(test)]
mod size_tests {
    /// Every Certificate unpacked for a pass costs its inline size however few fields are set:
    /// keep the rarely set parts boxed. (The cache keeps `CachedCertificate`; docs/architecture.md,
    /// "Caches and what they cost".)
    #[test]
    fn a_certificate_stays_narrow() {
        let size = std::mem::size_of::<super::Certificate>();
        assert!(size <= 960, "Certificate is {size} bytes inline (936 when boxed)");
    }
}
