//! The parts of a Certificate's spec beyond names and lifetimes: subject fields, the private
//! key, extra output formats and the Secret template.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A label or annotation key: optional DNS-subdomain prefix and '/', then a name of 1-63.
const LABEL_KEY_RE: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/// A label value: empty, or 1-63 characters starting and ending alphanumeric.
const LABEL_VALUE_RE: &str = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";

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
