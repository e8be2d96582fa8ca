//! What the Secret cache keeps of each owned Secret. The cache only feeds `decide` (every write
//! re-reads the Secret from the API server first), and `decide` reads the leaf, the key, whether
//! `ca.crt` holds a certificate, which data keys exist, labels, annotations and the type. So the
//! cached copy keeps exactly that: `tls.crt` cut to its leaf, the extra formats emptied (their
//! presence is what counts), no managed fields. At 10,000 Certificates the chains and extra
//! formats were most of the cache.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use crate::pki::{certs_from_pem, certs_to_pem};

/// Shrinks a Secret for the cache without changing what `TargetSecret::parse` or
/// `NextKey::parse` make of it.
pub fn compact(secret: &mut Secret) {
    secret.metadata.managed_fields = None;
    let Some(data) = secret.data.as_mut() else {
        return;
    };
    for (key, ByteString(value)) in data.iter_mut() {
        match key.as_str() {
            // Read whole: the key's facts, and whether the CA parses.
            "tls.key" | "ca.crt" => {}
            "tls.crt" => {
                // Cut only a chain that parses whole, so a damaged chain stays damaged in the
                // cache and is seen as such.
                let leaf = std::str::from_utf8(value)
                    .ok()
                    .and_then(|pem| certs_from_pem(pem).ok())
                    .filter(|certs| certs.len() > 1)
                    .map(|certs| certs_to_pem(&certs[..1]).into_bytes());
                if let Some(leaf) = leaf {
                    *value = leaf;
                }
            }
            _ => value.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Certificate, OutputFormat};
    use crate::certificate::observed::TargetSecret;
    use crate::certificate::secret::target_secret;
    use crate::certificate::spec::tests::spec;
    use crate::pki::LeafInfo;
    use crate::pki::test_ca::chain_for;

    #[test]
    fn the_cached_copy_reads_the_same_and_is_smaller() {
        let mut cert = Certificate::new("web", spec(&["web.example.com"]));
        cert.spec.additional_output_formats = Some(vec![OutputFormat::CombinedPEM, OutputFormat::PKCS7]);
        let chain = chain_for(&["web.example.com"]);
        let leaf = LeafInfo::parse(&chain.chain[0]).unwrap();
        let full = target_secret(&cert, &chain.leaf_key, &chain.chain, &leaf).unwrap();
        let mut cached = full.clone();
        compact(&mut cached);
        assert_eq!(TargetSecret::parse(&cached), TargetSecret::parse(&full));
        let size = |s: &Secret| {
            s.data
                .as_ref()
                .unwrap()
                .values()
                .map(|v| v.0.len())
                .sum::<usize>()
        };
        assert!(
            size(&cached) * 2 < size(&full),
            "{} of {} bytes kept",
            size(&cached),
            size(&full)
        );
    }

    #[test]
    fn a_damaged_chain_is_kept_as_it_is() {
        let chain = chain_for(&["web.example.com"]);
        let mut pem = certs_to_pem(&chain.chain);
        pem.push_str("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        let mut secret = Secret {
            data: Some([("tls.crt".to_string(), ByteString(pem.clone().into_bytes()))].into()),
            ..Default::default()
        };
        compact(&mut secret);
        assert_eq!(secret.data.unwrap()["tls.crt"].0, pem.into_bytes());
    }
}
