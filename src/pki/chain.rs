//! Parsing delivered certificates and chains, ordering them leaf → root and verifying each link.

use base64::Engine;
use x509_parser::prelude::*;

use super::pkcs7::certs_from_pkcs7_der;
use super::{CertDer, PkiError};

/// All PEM blocks of a text; a block cut short (a BEGIN without its END) is an error, not
/// silently dropped.
fn pem_blocks(text: &str) -> Result<Vec<::pem::Pem>, PkiError> {
    let blocks = ::pem::parse_many(text).map_err(|e| PkiError::Pem(e.to_string()))?;
    if text.matches("-----BEGIN ").count() != blocks.len() {
        return Err(PkiError::Pem(
            "a PEM block is incomplete (truncated data?)".into(),
        ));
    }
    Ok(blocks)
}

/// Every `CERTIFICATE` block of a PEM text, in order.
pub fn certs_from_pem(text: &str) -> Result<Vec<CertDer>, PkiError> {
    let blocks = pem_blocks(text)?;
    let certs: Vec<CertDer> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(::pem::Pem::into_contents)
        .collect();
    if certs.is_empty() {
        return Err(PkiError::NoCertificate("PEM text"));
    }
    Ok(certs)
}

/// Certificates from however TLM delivered them: PEM certificates, a PEM PKCS#7, or bare base64
/// of a DER certificate or PKCS#7.
pub fn certs_from_delivery(text: &str) -> Result<Vec<CertDer>, PkiError> {
    let trimmed = text.trim();
    if trimmed.contains("-----BEGIN") {
        let blocks = pem_blocks(trimmed)?;
        let mut certs = Vec::new();
        for block in blocks {
            match block.tag() {
                "CERTIFICATE" => certs.push(block.into_contents()),
                "PKCS7" | "CMS" => certs.extend(certs_from_pkcs7_der(block.contents())?),
                _ => {}
            }
        }
        if certs.is_empty() {
            return Err(PkiError::NoCertificate("delivered PEM"));
        }
        return Ok(certs);
    }
    let compact: String = trimmed.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| PkiError::Pem("neither PEM nor base64".into()))?;
    if X509Certificate::from_der(&der).is_ok() {
        return Ok(vec![der]);
    }
    certs_from_pkcs7_der(&der)
}

fn parse(index: usize, der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| PkiError::Certificate {
            index,
            reason: e.to_string(),
        })
}

/// The certificates of a chain answer (TLM's `additional-formats`): every PEM blob, else the
/// PKCS#7. The error is a sentence for a condition.
pub fn certs_from_chain_answer<'a>(
    pem_blobs: impl IntoIterator<Item = &'a str>,
    pkcs7: Option<&str>,
) -> Result<Vec<CertDer>, String> {
    let mut certs = Vec::new();
    for blob in pem_blobs {
        certs.extend(certs_from_pem(blob).map_err(|e| format!("an unreadable chain: {e}"))?);
    }
    if certs.is_empty()
        && let Some(p7) = pkcs7
    {
        certs = certs_from_delivery(p7).map_err(|e| format!("an unreadable PKCS#7: {e}"))?;
    }
    Ok(certs)
}

/// More certificates than any real chain (leaf, a few intermediates, a root, cross-signs).
pub const MAX_CHAIN_CERTIFICATES: usize = 10;

/// Orders certificates leaf first, each followed by its issuer. The leaf is the certificate
/// with `leaf_spki` when given, else the one that issued nothing else. Certificates that are
/// not on the leaf's path are dropped.
pub fn order_chain(certs: &[CertDer], leaf_spki: Option<&[u8]>) -> Result<Vec<CertDer>, PkiError> {
    // Ordering compares every pair: a service that sends thousands of certificates gets a
    // clear refusal, not minutes of CPU.
    if certs.len() > MAX_CHAIN_CERTIFICATES {
        return Err(PkiError::Chain(format!(
            "{} certificates where a chain has at most {MAX_CHAIN_CERTIFICATES}",
            certs.len()
        )));
    }
    let parsed: Vec<X509Certificate<'_>> = certs
        .iter()
        .enumerate()
        .map(|(i, der)| parse(i, der))
        .collect::<Result<_, _>>()?;
    let issued_something = |i: usize| {
        parsed
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && other.issuer().as_raw() == parsed[i].subject().as_raw())
    };
    let leaf = match leaf_spki {
        Some(spki) => parsed
            .iter()
            .position(|c| c.public_key().raw == spki)
            .ok_or(PkiError::KeyMismatch)?,
        None => (0..parsed.len())
            .find(|&i| !issued_something(i))
            .ok_or_else(|| PkiError::Chain("no leaf certificate".into()))?,
    };
    let mut order = vec![leaf];
    loop {
        let current = &parsed[*order.last().expect("order starts with the leaf")];
        if current.subject().as_raw() == current.issuer().as_raw() {
            break;
        }
        match (0..parsed.len())
            .find(|j| !order.contains(j) && parsed[*j].subject().as_raw() == current.issuer().as_raw())
        {
            Some(next) => order.push(next),
            None => break,
        }
    }
    Ok(order.into_iter().map(|i| certs[i].clone()).collect())
}

/// Verifies a leaf-first chain: each certificate is signed by the next, and the last is a
/// self-signed root whose signature verifies with its own key.
pub fn verify_chain(chain: &[CertDer]) -> Result<(), PkiError> {
    let parsed: Vec<X509Certificate<'_>> = chain
        .iter()
        .enumerate()
        .map(|(i, der)| parse(i, der))
        .collect::<Result<_, _>>()?;
    if parsed.len() < 2 {
        return Err(PkiError::Chain("the chain has no issuer certificates".into()));
    }
    for (i, pair) in parsed.windows(2).enumerate() {
        let (child, parent) = (&pair[0], &pair[1]);
        if child.issuer().as_raw() != parent.subject().as_raw() {
            return Err(PkiError::Chain(format!(
                "certificate {i} ({}) is not issued by certificate {} ({})",
                child.subject(),
                i + 1,
                parent.subject()
            )));
        }
        child.verify_signature(Some(parent.public_key())).map_err(|e| {
            PkiError::Chain(format!(
                "signature of certificate {i} ({}) does not verify: {e}",
                child.subject()
            ))
        })?;
    }
    let root = parsed.last().expect("at least two certificates");
    if root.subject().as_raw() != root.issuer().as_raw() {
        return Err(PkiError::Chain(format!(
            "the chain ends at {}, which is not a root",
            root.subject()
        )));
    }
    root.verify_signature(None)
        .map_err(|e| PkiError::Chain(format!("the root's self-signature does not verify: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::test_ca::chain_for;
    use crate::pki::{LeafInfo, certs_to_pem, pkcs7_pem_from_certs};

    #[test]
    fn shuffled_chain_is_ordered_and_verifies() {
        let t = chain_for(&["a.example.com"]);
        let shuffled = vec![t.chain[2].clone(), t.chain[0].clone(), t.chain[1].clone()];
        assert_eq!(order_chain(&shuffled, None).unwrap(), t.chain);
        assert_eq!(
            order_chain(&shuffled, Some(&t.leaf_key.spki_der())).unwrap(),
            t.chain
        );
        verify_chain(&t.chain).unwrap();
    }

    #[test]
    fn wrong_key_is_a_mismatch() {
        let t = chain_for(&["a.example.com"]);
        let other = crate::pki::PrivateKey::generate(crate::pki::KeyAlgorithm::ECDSA, None).unwrap();
        assert_eq!(
            order_chain(&t.chain, Some(&other.spki_der())).unwrap_err(),
            PkiError::KeyMismatch
        );
    }

    #[test]
    fn broken_links_are_refused() {
        let t = chain_for(&["a.example.com"]);
        let u = chain_for(&["b.example.com"]);
        // Leaf from one CA, issuers from another with the same names: signature must fail.
        let mixed = vec![t.chain[0].clone(), u.chain[1].clone(), u.chain[2].clone()];
        let err = verify_chain(&mixed).unwrap_err();
        assert!(
            matches!(err, PkiError::Chain(ref m) if m.contains("does not verify")),
            "{err}"
        );
        // Missing intermediate.
        let err = verify_chain(&[t.chain[0].clone(), t.chain[2].clone()]).unwrap_err();
        assert!(
            matches!(err, PkiError::Chain(ref m) if m.contains("not issued by")),
            "{err}"
        );
        // No root.
        let err = verify_chain(&t.chain[..2]).unwrap_err();
        assert!(
            matches!(err, PkiError::Chain(ref m) if m.contains("not a root")),
            "{err}"
        );
        // Flipped bit in the leaf's signature.
        let mut tampered = t.chain.clone();
        let last = tampered[0].len() - 3;
        tampered[0][last] ^= 0x01;
        assert!(verify_chain(&tampered).is_err());
    }

    #[test]
    fn every_delivery_form_gives_the_same_certificates() {
        let t = chain_for(&["a.example.com"]);
        let pem_chain = certs_to_pem(&t.chain);
        assert_eq!(certs_from_delivery(&pem_chain).unwrap(), t.chain);
        let p7 = pkcs7_pem_from_certs(&t.chain).unwrap();
        assert!(p7.starts_with("-----BEGIN PKCS7-----"));
        let mut from_p7 = certs_from_delivery(&p7).unwrap();
        from_p7.sort();
        let mut expected = t.chain.clone();
        expected.sort();
        assert_eq!(from_p7, expected);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&t.chain[0]);
        assert_eq!(certs_from_delivery(&b64).unwrap(), vec![t.chain[0].clone()]);
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        let t = chain_for(&["a.example.com"]);
        let pem_chain = certs_to_pem(&t.chain);
        for bad in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            &pem_chain[..pem_chain.len() / 2],
        ] {
            let result = certs_from_delivery(bad).and_then(|c| order_chain(&c, None));
            assert!(result.is_err(), "{bad:?} accepted");
        }
        let p7 = pkcs7_pem_from_certs(&t.chain).unwrap();
        assert!(certs_from_delivery(&p7[..p7.len() / 2]).is_err());
    }

    #[test]
    fn leaf_info_reads_names_and_dates() {
        let t = chain_for(&["a.example.com", "b.example.com"]);
        let info = LeafInfo::parse(&t.chain[0]).unwrap();
        assert_eq!(info.common_name.as_deref(), Some("a.example.com"));
        assert_eq!(info.dns_names, ["a.example.com", "b.example.com"]);
        assert_eq!(info.spki_der, t.leaf_key.spki_der());
        assert!(info.not_after > info.not_before);
        assert_eq!(info.thumbprint_sha256.len(), 64);
    }

    #[test]
    fn an_overlong_chain_is_refused_before_ordering() {
        let chain = chain_for(&["a.example.com"]).chain;
        let many: Vec<CertDer> = chain
            .iter()
            .cycle()
            .take(MAX_CHAIN_CERTIFICATES + 1)
            .cloned()
            .collect();
        let err = order_chain(&many, None).unwrap_err().to_string();
        assert!(err.contains("at most 10"), "{err}");
        assert!(order_chain(&chain, None).is_ok());
    }
}
