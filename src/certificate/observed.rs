//! Plain views of the objects `decide` looks at, parsed once from the API objects.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;

use crate::api::{IssuerKind, KeyAlgorithm};
use crate::labels;
use crate::pki::{LeafInfo, PrivateKey, certs_from_pem, spki_sha256_hex};

/// Facts about a private key, without the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFacts {
    pub algorithm: KeyAlgorithm,
    pub size: u32,
    pub spki_sha256: String,
}

impl KeyFacts {
    pub fn of(key: &PrivateKey) -> Self {
        Self {
            algorithm: key.algorithm().into(),
            size: key.size(),
            spki_sha256: key.spki_sha256_hex(),
        }
    }

    pub fn satisfies(&self, algorithm: KeyAlgorithm, size: Option<u32>) -> bool {
        self.algorithm == algorithm && self.size == crate::pki::effective_key_size(algorithm, size)
    }
}

/// The Certificate's target Secret as found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSecret {
    pub leaf: Result<LeafInfo, String>,
    pub key: Result<KeyFacts, String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub data_keys: BTreeSet<String>,
    /// `ca.crt` holds a certificate.
    pub has_ca: bool,
    /// The operator's label is present (a Secret created by someone else lacks it).
    pub managed: bool,
    /// `type` of the Secret (a Certificate writes `kubernetes.io/tls`; the type is immutable).
    pub secret_type: Option<String>,
}

impl TargetSecret {
    pub fn parse(secret: &Secret) -> Self {
        let data = secret.data.clone().unwrap_or_default();
        let text = |key: &str| {
            data.get(key)
                .map(|ByteString(b)| String::from_utf8_lossy(b).into_owned())
        };
        let leaf = match text("tls.crt") {
            None => Err("tls.crt is missing".to_string()),
            Some(pem) => certs_from_pem(&pem)
                .map_err(|e| format!("tls.crt: {e}"))
                .and_then(|certs| LeafInfo::parse(&certs[0]).map_err(|e| format!("tls.crt: {e}"))),
        };
        let key = match text("tls.key") {
            None => Err("tls.key is missing".to_string()),
            Some(pem) => PrivateKey::from_pem(&pem)
                .map(|k| KeyFacts::of(&k))
                .map_err(|e| format!("tls.key: {e}")),
        };
        let labels = secret.metadata.labels.clone().unwrap_or_default();
        Self {
            managed: labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE),
            leaf,
            key,
            labels,
            annotations: secret.metadata.annotations.clone().unwrap_or_default(),
            data_keys: data.keys().cloned().collect(),
            has_ca: text("ca.crt").is_some_and(|pem| certs_from_pem(&pem).is_ok()),
            secret_type: secret.type_.clone(),
        }
    }

    /// The leaf, if it parsed and its key is the Secret's key.
    pub fn matched_leaf(&self) -> Option<&LeafInfo> {
        match (&self.leaf, &self.key) {
            (Ok(leaf), Ok(key)) if spki_sha256_hex(&leaf.spki_der) == key.spki_sha256 => Some(leaf),
            _ => None,
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// Why the Certificate `cert_name` may not write this Secret, if it may not: a type other
    /// than `kubernetes.io/tls`, or a Secret that neither this Certificate wrote nor its owner
    /// opened to it (`tlm.certops.dev/allow-certificate: <name>`).
    pub fn refusal(&self, cert_name: &str, secret_name: &str) -> Option<(&'static str, String)> {
        let secret_type = self.secret_type.as_deref().unwrap_or("Opaque");
        if secret_type != "kubernetes.io/tls" {
            return Some((
                "SecretTypeMismatch",
                format!(
                    "Secret {secret_name} has type {secret_type}; a Certificate writes kubernetes.io/tls Secrets and a Secret's type cannot change: delete it or choose another secretName"
                ),
            ));
        }
        let written_here = self.managed
            && (self.labels.get(labels::CERTIFICATE_NAME).map(String::as_str) == Some(cert_name)
                || self.annotation(labels::CERTIFICATE_NAME) == Some(cert_name));
        let opened = self.annotation(labels::ALLOW_CERTIFICATE) == Some(cert_name);
        (!written_here && !opened).then(|| {
            (
                "SecretNotOwned",
                format!(
                    "Secret {secret_name} exists and was not written for this Certificate; nothing is ordered. To let Certificate {cert_name} write it, annotate the Secret {}={cert_name}, or choose another secretName",
                    labels::ALLOW_CERTIFICATE
                ),
            )
        })
    }
}

/// A next-key Secret this Certificate created: the operator's labels and this Certificate as
/// its owner. Anything else under the name recorded in status is not used (its key could be
/// someone else's) and never deleted.
pub fn is_next_key_of(secret: &Secret, cert: &crate::api::Certificate) -> bool {
    let no_labels = BTreeMap::new();
    owned_next_key(
        secret.metadata.labels.as_ref().unwrap_or(&no_labels),
        secret
            .metadata
            .owner_references
            .iter()
            .flatten()
            .map(|o| o.uid.as_str()),
        cert,
    )
}

/// `is_next_key_of` on a Secret's labels and owner UIDs (the Secret cache keeps only those).
pub fn owned_next_key<'a>(
    labels: &BTreeMap<String, String>,
    mut owner_uids: impl Iterator<Item = &'a str>,
    cert: &crate::api::Certificate,
) -> bool {
    labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGED_BY_VALUE)
        && labels.get(labels::NEXT_PRIVATE_KEY).map(String::as_str) == Some("true")
        && labels.get(labels::CERTIFICATE_NAME) == cert.metadata.name.as_ref()
        && cert
            .metadata
            .uid
            .as_deref()
            .is_some_and(|uid| owner_uids.any(|o| o == uid))
}

/// The next-private-key Secret of an issuance in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextKey {
    pub name: String,
    /// None when the Secret exists but its key cannot be read.
    pub facts: Option<KeyFacts>,
    pub created: Option<Timestamp>,
}

impl NextKey {
    pub fn parse(secret: &Secret) -> Self {
        let facts = secret
            .data
            .as_ref()
            .and_then(|d| d.get("tls.key"))
            .and_then(|ByteString(b)| std::str::from_utf8(b).ok())
            .and_then(|pem| PrivateKey::from_pem(pem).ok())
            .map(|k| KeyFacts::of(&k));
        Self {
            name: secret.metadata.name.clone().unwrap_or_default(),
            facts,
            created: secret.metadata.creation_timestamp.as_ref().map(|t| t.0),
        }
    }
}

/// What the Certificate controller knows about the referenced issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerView {
    /// The issuer exists but has not been checked yet (it was just created).
    Unchecked,
    NotFound {
        kind: IssuerKind,
        name: String,
    },
    NotReady {
        reason: String,
        message: String,
    },
    Ready(ReadyIssuer),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadyIssuer {
    /// Days before expiry in which TLM treats a request as a renewal.
    pub renewal_period_days: Option<i64>,
    pub revoke_on_delete: bool,
    /// The profile may answer a submit with a pending request (anything but
    /// `third_party_app`, or not known).
    pub may_need_approval: bool,
    /// The profile honours a requested validity.
    pub validity_override: bool,
    /// The profile's own validity, for messages ("365 days").
    pub profile_validity: Option<String>,
}
