//! `Certificate`: a key generated in the cluster and a certificate for it issued by TLM, kept in
//! a `kubernetes.io/tls` Secret and renewed before it expires.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::core::Duration;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// DNS name, optionally with a wildcard as the whole leftmost label.
const DNS_NAME_RE: &str =
    r"^(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$";
/// A Secret name: a DNS-1123 subdomain.
const SECRET_NAME_RE: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// A label or annotation key: optional DNS-subdomain prefix and '/', then a name of 1-63.
const LABEL_KEY_RE: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/// A label value: empty, or 1-63 characters starting and ending alphanumeric.
const LABEL_VALUE_RE: &str = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,

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
    pub secret_template: Option<SecretTemplate>,

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

/// Subject fields beyond the common name. Empty lists are omitted.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// Organization (O).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(max = 64)))]
    pub organizations: Vec<String>,
    /// Organizational unit (OU).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(max = 64)))]
    pub organizational_units: Vec<String>,
    /// Country (C), two-letter ISO code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(min = 2, max = 2)))]
    pub countries: Vec<String>,
    /// Locality (L).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(max = 128)))]
    pub localities: Vec<String>,
    /// State or province (ST).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(max = 128)))]
    pub provinces: Vec<String>,
    /// Street address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(max = 128)))]
    pub street_addresses: Vec<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10), inner(length(max = 40)))]
    pub postal_codes: Vec<String>,
    /// Subject serial number attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub serial_number: Option<String>,
}

/// Private key settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.algorithm != 'RSA' || !has(self.size) || self.size in [2048, 3072, 4096]").message("RSA keys must be 2048, 3072 or 4096 bits"))]
#[x_kube(validation = Rule::new("self.algorithm != 'ECDSA' || !has(self.size) || self.size in [256, 384]").message("ECDSA keys must be 256 (P-256) or 384 (P-384) bits"))]
#[x_kube(validation = Rule::new("self.algorithm != 'Ed25519' || !has(self.size)").message("Ed25519 keys have a fixed size; remove privateKey.size"))]
pub struct PrivateKeySpec {
    /// Key algorithm.
    #[serde(default)]
    pub algorithm: KeyAlgorithm,
    /// Key size in bits: RSA 2048 (default), 3072 or 4096; ECDSA 256 (default) or 384; unset for
    /// Ed25519.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// Encoding of `tls.key`: `PKCS1` (RSA `RSA PRIVATE KEY`, ECDSA SEC1 `EC PRIVATE KEY`) or
    /// `PKCS8` (`PRIVATE KEY`). Ed25519 keys are always PKCS#8, which has the only standard
    /// encoding for them.
    #[serde(default)]
    pub encoding: KeyEncoding,
    /// `Always` makes a new key for every issuance; `Never` reuses the key in the Secret.
    #[serde(default)]
    pub rotation_policy: RotationPolicy,
}

/// Private key algorithms.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    RSA,
    #[default]
    ECDSA,
    Ed25519,
}

/// Encodings of `tls.key`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyEncoding {
    #[default]
    PKCS1,
    PKCS8,
}

/// Whether a re-issuance generates a new private key.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RotationPolicy {
    #[default]
    Always,
    Never,
}

/// Extra encodings of the key and chain written to the Secret.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputFormat {
    CombinedPEM,
    DER,
    PKCS7,
}

/// Labels and annotations for the Secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplate {
    /// Labels added to the Secret. Keys under `tlm.certops.dev/` are reserved for the operator.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('tlm.certops.dev/'))").message("secretTemplate.labels may not use the tlm.certops.dev/ prefix; the operator owns those keys"))]
    #[x_kube(validation = Rule::new(format!("self.all(k, k.matches(r'{LABEL_KEY_RE}'))")).message("secretTemplate.labels keys must be label keys: an optional DNS-name prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"))]
    #[x_kube(validation = Rule::new(format!("self.all(k, self[k].matches(r'{LABEL_VALUE_RE}'))")).message("secretTemplate.labels values must be empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"))]
    #[schemars(extend("maxProperties" = 64, "additionalProperties" = {"type": "string", "maxLength": 63}))]
    pub labels: BTreeMap<String, String>,
    /// Annotations added to the Secret. Keys under `tlm.certops.dev/` are reserved for the
    /// operator.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('tlm.certops.dev/'))").message("secretTemplate.annotations may not use the tlm.certops.dev/ prefix; the operator owns those keys"))]
    #[x_kube(validation = Rule::new(format!("self.all(k, k.matches(r'{LABEL_KEY_RE}'))")).message("secretTemplate.annotations keys must be annotation keys: an optional DNS-name prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"))]
    #[schemars(extend("maxProperties" = 64))]
    pub annotations: BTreeMap<String, String>,
}

/// Observed state of a Certificate.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// `Ready` (the Secret holds a valid certificate for the current spec) and `Issuing` (an
    /// issuance is in progress), each with a reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Serial number (hex) of the certificate in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// SHA-256 thumbprint (hex) of the certificate in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// SHA-256 (hex) of the certificate's public key (SubjectPublicKeyInfo), as Certificate
    /// Transparency monitors report it: the operator's own record of the keys it generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_sha256: Option<String>,
    /// Start of the certificate's validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// End of the certificate's validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Time>,
    /// When the operator will renew the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<Time>,
    /// Number of certificates issued for this Certificate so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// The Secret holding the private key of the issuance in progress. Recorded before the key
    /// is used, so a restart never loses or replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_private_key_secret_name: Option<String>,
    /// The TLM request of the issuance in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_request: Option<PendingRequest>,
    /// When the last issuance attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_time: Option<Time>,
    /// Consecutive failed issuance attempts; reset by success or a spec change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_issuance_attempts: Option<i32>,
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A request submitted to TLM and not yet finished.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PendingRequest {
    /// Serial number TLM returned for the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    /// Pickup request ID, for profiles that issue asynchronously through a pickup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup_request_id: Option<String>,
    /// SHA-256 (hex) of the public key the request was made for.
    pub public_key_sha256: String,
    /// The Certificate generation the request was made for.
    pub generation: i64,
    /// When the request was submitted.
    pub submitted_at: Time,
    /// Status polls made so far (drives the poll backoff).
    #[serde(default)]
    pub polls: u32,
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
