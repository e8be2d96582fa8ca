//! The Secrets a Certificate owns: the target `kubernetes.io/tls` Secret and the next private key.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;

use super::decide::output_key;
use super::spec::request_hash;
use crate::api::{Certificate, OutputFormat};
use crate::labels;
use crate::pki::{CertDer, LeafInfo, PkiError, PrivateKey, certs_to_pem, pkcs7_pem_from_certs};

/// Data keys written only when an extra output format asks for them.
pub const OPTIONAL_KEYS: [&str; 3] = ["tls-combined.pem", "key.der", "tls.p7c"];

/// The target Secret for a verified leaf-first chain (leaf, intermediates, root) and its key.
/// The operator applies the whole object with server-side apply, so keys and annotations it no
/// longer sets are removed.
pub fn target_secret(
    cert: &Certificate,
    key: &PrivateKey,
    chain: &[CertDer],
    leaf: &LeafInfo,
) -> Result<Secret, PkiError> {
    let spec = &cert.spec;
    let encoding = spec.private_key.encoding;
    let (root, served) = chain.split_last().ok_or(PkiError::Chain("empty chain".into()))?;
    let tls_key = key.to_pem(encoding)?;
    let tls_crt = certs_to_pem(served);
    let mut data = BTreeMap::from([
        ("tls.key".to_string(), ByteString(tls_key.clone().into_bytes())),
        ("tls.crt".to_string(), ByteString(tls_crt.clone().into_bytes())),
        (
            "ca.crt".to_string(),
            ByteString(certs_to_pem(std::slice::from_ref(root)).into_bytes()),
        ),
    ]);
    for format in spec.additional_output_formats.iter().flatten() {
        let value = match format {
            OutputFormat::CombinedPEM => format!("{tls_key}{tls_crt}").into_bytes(),
            OutputFormat::DER => key.to_der(encoding)?,
            OutputFormat::PKCS7 => pkcs7_pem_from_certs(chain)?.into_bytes(),
        };
        data.insert(output_key(*format).to_string(), ByteString(value));
    }

    let template = spec.secret_template.clone().unwrap_or_default();
    let cert_name = cert.metadata.name.clone().unwrap_or_default();
    let mut secret_labels = template.labels;
    secret_labels.insert(labels::MANAGED_BY.into(), labels::MANAGED_BY_VALUE.into());
    secret_labels.insert(labels::CERTIFICATE_NAME.into(), cert_name.clone());
    let mut annotations = template.annotations;
    let join = |v: &Vec<String>| v.join(",");
    annotations.extend([
        (labels::ISSUER_NAME.to_string(), spec.issuer_ref.name.clone()),
        (
            labels::ISSUER_KIND.to_string(),
            format!("{:?}", spec.issuer_ref.kind),
        ),
        (labels::SERIAL_NUMBER.to_string(), leaf.serial_hex.clone()),
        (
            labels::COMMON_NAME.to_string(),
            leaf.common_name.clone().unwrap_or_default(),
        ),
        (labels::ALT_NAMES.to_string(), join(&leaf.dns_names)),
        (labels::IP_SANS.to_string(), join(&leaf.ip_addresses)),
        (labels::URI_SANS.to_string(), join(&leaf.uris)),
        (labels::EMAIL_SANS.to_string(), join(&leaf.email_addresses)),
        (labels::REQUEST_HASH.to_string(), request_hash(spec)),
        (labels::CERTIFICATE_NAME.to_string(), cert_name),
    ]);
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(spec.secret_name.clone()),
            namespace: cert.metadata.namespace.clone(),
            labels: Some(secret_labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        data: Some(data),
        ..Default::default()
    })
}

/// The next-private-key Secret: the key in PKCS#8, owned by the Certificate so a real cluster's
/// garbage collector removes it with the Certificate.
pub fn next_key_secret(cert: &Certificate, name: &str, key: &PrivateKey) -> Secret {
    let cert_name = cert.metadata.name.clone().unwrap_or_default();
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: cert.metadata.namespace.clone(),
            labels: Some(BTreeMap::from([
                (
                    labels::MANAGED_BY.to_string(),
                    labels::MANAGED_BY_VALUE.to_string(),
                ),
                (labels::CERTIFICATE_NAME.to_string(), cert_name),
                (labels::NEXT_PRIVATE_KEY.to_string(), "true".to_string()),
            ])),
            owner_references: cert.controller_owner_ref(&()).map(|r| vec![r]),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(
            "tls.key".to_string(),
            ByteString(key.pkcs8_pem().into_bytes()),
        )])),
        ..Default::default()
    }
}

/// The next-key Secret name of a Certificate's first issuance: fixed by its UID, so the name
/// needs no status write before the key exists (a restarted operator finds the key under the
/// same name). Later issuances record a fresh name in status first.
pub fn first_key_name(cert_name: &str, uid: &str) -> String {
    let stem: String = cert_name.chars().take(240).collect();
    let suffix = &crate::pki::sha256_hex(uid.as_bytes())[..8];
    format!("{}-{suffix}", stem.trim_end_matches(['-', '.']))
}

/// The name the next-key Secret has: the one in status, else the first issuance's (until the
/// first issuance has recorded its outcome and deleted that key: revision 1 may still have it,
/// when the process stopped between the two).
pub fn next_key_name(cert: &Certificate) -> Option<String> {
    let status = cert.status.as_ref();
    match status.and_then(|s| s.next_private_key_secret_name.clone()) {
        Some(name) => Some(name),
        None if status.and_then(|s| s.revision).is_none_or(|r| r <= 1) => {
            let uid = cert.meta().uid.as_deref()?;
            Some(first_key_name(cert.meta().name.as_deref()?, uid))
        }
        None => None,
    }
}

/// A fresh next-key Secret name: `<certificate>-<5 random chars>` (cert-manager's shape),
/// shortened so it stays a valid name.
pub fn fresh_next_key_name(cert_name: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let stem: String = cert_name.chars().take(240).collect();
    format!("{}-{suffix}", stem.trim_end_matches(['-', '.']))
}
