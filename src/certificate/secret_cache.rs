//! The cache of the Secrets the operator owns, as digests: what `decide` reads of each Secret
//! (the leaf's facts, the key's facts, labels, annotations, which data keys exist, the type)
//! and what says whether it is a Certificate's next-key Secret (name, creation time, owner
//! UIDs). No key and no certificate bytes are kept: every write re-reads the Secret from the
//! API server first, so the cache only has to be right for deciding. At 10,000 Certificates
//! whole Secret objects were the largest part of the process's memory, and each pass parsed
//! the PEM again.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::watcher;
use tokio::sync::watch;

use super::observed::{KeyFacts, NextKey, TargetSecret, owned_next_key};
use super::packed::{Packer, Unpacker};
use crate::api::{Certificate, KeyAlgorithm};
use crate::labels;
use crate::pki::LeafInfo;

/// What the cache keeps of one Secret: the facts `TargetSecret` and `NextKey` hold (less the
/// informational annotations and the leaf's DNs), with every string in one packed allocation.
/// Digests are read back whole, as a `TargetSecret`, once per pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDigest {
    created: Option<Timestamp>,
    /// The leaf's validity, when `tls.crt` parsed.
    validity: Option<(Timestamp, Timestamp)>,
    /// The key's algorithm and size, when `tls.key` parsed.
    key: Option<(KeyAlgorithm, u32)>,
    has_ca: bool,
    managed: bool,
    /// Name, owner UIDs, type, labels, annotations, data keys, the leaf's strings and SPKI and
    /// the key's hash (or why each did not parse), in the order `of` writes them.
    packed: Box<[u8]>,
}

/// A digest read back.
struct Unpacked {
    name: String,
    owner_uids: Vec<String>,
    target: TargetSecret,
}

impl SecretDigest {
    pub fn of(secret: &Secret) -> Self {
        let target = without_informational(TargetSecret::parse(secret));
        let mut p = Packer::default();
        p.str(secret.metadata.name.as_deref().unwrap_or_default());
        let owners = secret.metadata.owner_references.as_deref().unwrap_or_default();
        p.strs(owners.iter().map(|o| o.uid.as_str()));
        p.opt_str(target.secret_type.as_deref());
        for map in [&target.labels, &target.annotations] {
            p.pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        p.strs(target.data_keys.iter().map(String::as_str));
        match &target.leaf {
            Ok(leaf) => {
                p.str(&leaf.serial_hex);
                p.opt_str(leaf.common_name.as_deref());
                for names in [
                    &leaf.dns_names,
                    &leaf.ip_addresses,
                    &leaf.email_addresses,
                    &leaf.uris,
                ] {
                    p.strs(names.iter().map(String::as_str));
                }
                p.bytes(&leaf.spki_der);
                p.str(&leaf.thumbprint_sha256);
            }
            Err(why) => p.str(why),
        }
        match &target.key {
            Ok(key) => p.str(&key.spki_sha256),
            Err(why) => p.str(why),
        }
        Self {
            created: secret.metadata.creation_timestamp.as_ref().map(|t| t.0),
            validity: target.leaf.as_ref().ok().map(|l| (l.not_before, l.not_after)),
            key: target.key.as_ref().ok().map(|k| (k.algorithm, k.size)),
            has_ca: target.has_ca,
            managed: target.managed,
            packed: p.finish(),
        }
    }

    fn unpack(&self) -> Unpacked {
        let mut u = Unpacker::new(&self.packed);
        let name = u.string();
        let owner_uids = u.strings();
        let secret_type = u.opt_string();
        let labels = u.pairs();
        let annotations = u.pairs();
        let data_keys = u.strings().into_iter().collect();
        let leaf = match self.validity {
            Some((not_before, not_after)) => Ok(LeafInfo {
                serial_hex: u.string(),
                not_before,
                not_after,
                common_name: u.opt_string(),
                dns_names: u.strings(),
                ip_addresses: u.strings(),
                email_addresses: u.strings(),
                uris: u.strings(),
                spki_der: u.bytes(),
                thumbprint_sha256: u.string(),
                issuer: String::new(),
                subject: String::new(),
            }),
            None => Err(u.string()),
        };
        let key = match self.key {
            Some((algorithm, size)) => Ok(KeyFacts {
                algorithm,
                size,
                spki_sha256: u.string(),
            }),
            None => Err(u.string()),
        };
        Unpacked {
            name,
            owner_uids,
            target: TargetSecret {
                leaf,
                key,
                labels,
                annotations,
                data_keys,
                has_ca: self.has_ca,
                managed: self.managed,
                secret_type,
            },
        }
    }

    /// The Secret read as a Certificate's target Secret.
    pub fn target(&self) -> TargetSecret {
        self.unpack().target
    }

    /// The Secret read as a next-key Secret (the same facts `NextKey::parse` reads).
    pub fn next_key(&self) -> NextKey {
        let Unpacked { name, target, .. } = self.unpack();
        NextKey {
            name,
            facts: target.key.ok(),
            created: self.created,
        }
    }

    /// Whether `cert` created this Secret as its next-key Secret.
    pub fn is_next_key_of(&self, cert: &Certificate) -> bool {
        let Unpacked {
            owner_uids, target, ..
        } = self.unpack();
        owned_next_key(&target.labels, owner_uids.iter().map(String::as_str), cert)
    }

    /// Bytes held by the digest's packed strings.
    #[cfg(test)]
    fn packed_len(&self) -> usize {
        self.packed.len()
    }
}

/// Annotations the operator writes for people and other tools (serial, names), which nothing
/// deciding reads: together longer than the rest of the digest.
const INFORMATIONAL: [&str; 6] = [
    labels::SERIAL_NUMBER,
    labels::COMMON_NAME,
    labels::ALT_NAMES,
    labels::IP_SANS,
    labels::URI_SANS,
    labels::EMAIL_SANS,
];

/// Drops what deciding never reads: the informational annotations and the leaf's issuer and
/// subject DNs (names are compared from the SANs and common name).
fn without_informational(mut target: TargetSecret) -> TargetSecret {
    for key in INFORMATIONAL {
        target.annotations.remove(key);
    }
    if let Ok(leaf) = target.leaf.as_mut() {
        leaf.issuer = String::new();
        leaf.subject = String::new();
    }
    target
}

type ByName = HashMap<String, Arc<SecretDigest>>;

/// Digests by namespace and name, fed by a watch on the owned Secrets.
#[derive(Clone)]
pub struct SecretDigests {
    by_namespace: Arc<RwLock<HashMap<String, ByName>>>,
    /// The watch's initial list is being buffered here until it is complete.
    listing: Arc<RwLock<Option<HashMap<String, ByName>>>>,
    ready: watch::Sender<bool>,
}

impl Default for SecretDigests {
    fn default() -> Self {
        Self {
            by_namespace: Arc::default(),
            listing: Arc::default(),
            ready: watch::Sender::new(false),
        }
    }
}

impl SecretDigests {
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<SecretDigest>> {
        self.by_namespace
            .read()
            .expect("secret digests lock")
            .get(namespace)
            .and_then(|names| names.get(name))
            .cloned()
    }

    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.get(namespace, name).is_some()
    }

    pub fn len(&self) -> usize {
        let map = self.by_namespace.read().expect("secret digests lock");
        map.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves once the first complete list has been applied.
    pub async fn wait_until_ready(&self) {
        let mut ready = self.ready.subscribe();
        let _ = ready.wait_for(|r| *r).await;
    }

    /// Applies one watch event, as `kube`'s reflector does for its store: a relist is buffered
    /// and swapped in whole when complete, so a reader never sees half a list.
    pub fn apply(&self, event: &watcher::Event<Secret>) {
        match event {
            watcher::Event::Init => {
                *self.listing.write().expect("listing lock") = Some(HashMap::new());
            }
            watcher::Event::InitApply(secret) => {
                if let Some(listing) = self.listing.write().expect("listing lock").as_mut() {
                    insert(listing, secret);
                }
            }
            watcher::Event::InitDone => {
                if let Some(listed) = self.listing.write().expect("listing lock").take() {
                    *self.by_namespace.write().expect("secret digests lock") = listed;
                }
                self.ready.send_replace(true);
            }
            watcher::Event::Apply(secret) => {
                insert(
                    &mut self.by_namespace.write().expect("secret digests lock"),
                    secret,
                );
            }
            watcher::Event::Delete(secret) => {
                let (Some(ns), Some(name)) = (&secret.metadata.namespace, &secret.metadata.name) else {
                    return;
                };
                let mut map = self.by_namespace.write().expect("secret digests lock");
                if let Some(names) = map.get_mut(ns) {
                    names.remove(name);
                    if names.is_empty() {
                        map.remove(ns);
                    }
                }
            }
        }
    }
}

fn insert(map: &mut HashMap<String, ByName>, secret: &Secret) {
    let (Some(ns), Some(name)) = (&secret.metadata.namespace, &secret.metadata.name) else {
        return;
    };
    map.entry(ns.clone())
        .or_default()
        .insert(name.clone(), Arc::new(SecretDigest::of(secret)));
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    use super::*;
    use crate::api::{Certificate, OutputFormat};
    use crate::certificate::observed::is_next_key_of;
    use crate::certificate::secret::{next_key_secret, target_secret};
    use crate::certificate::spec::tests::spec;
    use crate::pki::LeafInfo;
    use crate::pki::test_ca::chain_for;

    fn cert() -> Certificate {
        let mut cert = Certificate::new("web", spec(&["web.example.com"]));
        cert.metadata.namespace = Some("apps".into());
        cert.metadata.uid = Some("uid-1".into());
        cert.spec.additional_output_formats = Some(vec![OutputFormat::CombinedPEM, OutputFormat::PKCS7]);
        cert
    }

    fn named(mut secret: Secret, name: &str) -> Secret {
        secret.metadata.name = Some(name.into());
        secret.metadata.namespace = Some("apps".into());
        secret
    }

    #[test]
    fn the_digest_reads_as_the_secret_does() {
        let cert = cert();
        let chain = chain_for(&["web.example.com"]);
        let leaf = LeafInfo::parse(&chain.chain[0]).unwrap();
        let secret = named(
            target_secret(&cert, &chain.leaf_key, &chain.chain, &leaf).unwrap(),
            "web-tls",
        );
        let digest = SecretDigest::of(&secret);
        let mut whole = TargetSecret::parse(&secret);
        assert!(INFORMATIONAL.iter().all(|k| whole.annotations.contains_key(*k)));
        whole
            .annotations
            .retain(|k, _| !INFORMATIONAL.contains(&k.as_str()));
        if let Ok(leaf) = whole.leaf.as_mut() {
            (leaf.issuer, leaf.subject) = (String::new(), String::new());
        }
        assert_eq!(digest.target(), whole);
        assert_eq!(digest.next_key(), NextKey::parse(&secret));
        assert!(digest.target().matched_leaf().is_some());
        // One allocation of a few hundred bytes, where maps and strings took kilobytes.
        assert!(digest.packed_len() < 400, "{} bytes", digest.packed_len());
    }

    #[test]
    fn a_secret_that_does_not_parse_reads_the_same_from_its_digest() {
        let cert = cert();
        let mut secret = named(
            next_key_secret(&cert, "web-next", &chain_for(&["a.example"]).leaf_key),
            "odd",
        );
        let data = secret.data.get_or_insert_default();
        data.insert("tls.key".into(), k8s_openapi::ByteString(b"not a key".to_vec()));
        data.insert("extra".into(), k8s_openapi::ByteString(Vec::new()));
        secret.type_ = Some("Opaque".into());
        secret.metadata.annotations = Some([("note".to_string(), "ünïcode, 00ff".to_string())].into());
        let digest = SecretDigest::of(&secret);
        assert_eq!(digest.target(), TargetSecret::parse(&secret));
        assert_eq!(digest.next_key(), NextKey::parse(&secret));
        assert!(digest.target().leaf.is_err() && digest.target().key.is_err());
    }

    #[test]
    fn a_next_key_is_recognised_only_with_this_certificates_uid() {
        let cert = cert();
        let chain = chain_for(&["web.example.com"]);
        let mut secret = named(next_key_secret(&cert, "web-next", &chain.leaf_key), "web-next");
        assert_eq!(
            SecretDigest::of(&secret).is_next_key_of(&cert),
            is_next_key_of(&secret, &cert)
        );
        assert!(SecretDigest::of(&secret).is_next_key_of(&cert));
        secret.metadata.owner_references = Some(vec![OwnerReference {
            uid: "someone-else".into(),
            ..Default::default()
        }]);
        assert!(!SecretDigest::of(&secret).is_next_key_of(&cert));
        assert!(!is_next_key_of(&secret, &cert));
    }

    #[tokio::test]
    async fn a_relist_replaces_the_cache_whole_and_deletes_remove() {
        let digests = SecretDigests::default();
        let secret = |name: &str| Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("apps".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        digests.apply(&watcher::Event::Init);
        digests.apply(&watcher::Event::InitApply(secret("a")));
        digests.apply(&watcher::Event::InitApply(secret("b")));
        assert!(digests.is_empty(), "half a list is never visible");
        digests.apply(&watcher::Event::InitDone);
        digests.wait_until_ready().await;
        assert_eq!(digests.len(), 2);
        digests.apply(&watcher::Event::Delete(secret("a")));
        digests.apply(&watcher::Event::Apply(secret("c")));
        assert!(!digests.contains("apps", "a"));
        assert!(digests.contains("apps", "b") && digests.contains("apps", "c"));
        digests.apply(&watcher::Event::Init);
        digests.apply(&watcher::Event::InitApply(secret("d")));
        digests.apply(&watcher::Event::InitDone);
        assert_eq!(digests.len(), 1, "a relist drops what is gone");
        assert!(digests.contains("apps", "d"));
    }
}
