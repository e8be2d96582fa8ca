//! What goes into `status.certificate` and `status.ca`: the certificates TLM returned, ordered
//! from the leaf carrying the CSR's key to a root, verified, then split into leaf +
//! intermediates and the root. Nothing is written before every check passed.

use crate::clients::tlm_types::AdditionalFormats;
use crate::pki::{
    CertDer, LeafInfo, certs_from_chain_answer, certs_from_delivery, certs_to_pem, order_chain, verify_chain,
};

use super::csr::CsrFacts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// PEM leaf then intermediates.
    pub certificate_pem: String,
    /// PEM root.
    pub ca_pem: String,
    pub leaf: LeafInfo,
}

/// The certificates of an additional-formats answer: the x509 chain, else the PKCS#7.
pub fn certs_of(formats: &AdditionalFormats) -> Result<Vec<CertDer>, String> {
    certs_from_chain_answer(
        formats.x509_cert_chain.iter().map(|e| e.cert_blob.as_str()),
        formats.pkcs7.as_deref(),
    )
}

/// Orders and verifies `chain` plus the `delivered` certificate for the CSR; the error is a
/// message for `Ready=False, Failed`.
pub fn assemble(
    mut certs: Vec<CertDer>,
    delivered: Option<&str>,
    csr: &CsrFacts,
    serial: &str,
) -> Result<Issued, String> {
    if let Some(text) = delivered {
        match certs_from_delivery(text) {
            Ok(found) => {
                for c in found {
                    if !certs.contains(&c) {
                        certs.push(c);
                    }
                }
            }
            Err(e) if certs.is_empty() => {
                return Err(format!("TLM delivered an unreadable certificate {serial}: {e}"));
            }
            Err(_) => {}
        }
    }
    let chain = order_chain(&certs, Some(&csr.spki_der))
        .map_err(|e| format!("certificate {serial} is unusable for this request: {e}"))?;
    verify_chain(&chain).map_err(|e| format!("the chain of certificate {serial} does not verify: {e}"))?;
    let leaf = LeafInfo::parse(&chain[0]).map_err(|e| format!("certificate {serial}: {e}"))?;
    let lower = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|n| n.to_ascii_lowercase()).collect();
        v.sort();
        v.dedup();
        v
    };
    if lower(&leaf.dns_names) != lower(&csr.sans.dns_names) {
        return Err(format!(
            "TLM issued certificate {serial} for DNS names {:?}, but the CSR asks for {:?}",
            leaf.dns_names, csr.sans.dns_names
        ));
    }
    let (root, served) = chain.split_last().expect("a verified chain has a root");
    Ok(Issued {
        certificate_pem: certs_to_pem(served),
        ca_pem: certs_to_pem(std::slice::from_ref(root)),
        leaf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certmanager::csr::parse_request;
    use crate::pki::test_ca::chain_with;
    use crate::pki::{PrivateKey, certs_from_pem};
    use base64::Engine;

    #[test]
    fn splits_a_verified_chain_into_certificate_and_ca() {
        let key = PrivateKey::generate(crate::api::KeyAlgorithm::ECDSA, None).unwrap();
        let chain = chain_with(&["a.example.com"], key, None);
        let params = rcgen::CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
        let csr_pem = params
            .serialize_request(chain.leaf_key.key_pair())
            .unwrap()
            .pem()
            .unwrap();
        let csr = parse_request(&base64::engine::general_purpose::STANDARD.encode(csr_pem)).unwrap();
        // Shuffled: root first.
        let mut shuffled = chain.chain.clone();
        shuffled.reverse();
        let issued = assemble(shuffled, None, &csr, "01").unwrap();
        let served = certs_from_pem(&issued.certificate_pem).unwrap();
        assert_eq!(served.len(), chain.chain.len() - 1);
        assert_eq!(served[0], chain.chain[0]);
        assert_eq!(
            certs_from_pem(&issued.ca_pem).unwrap(),
            vec![chain.chain.last().unwrap().clone()]
        );

        let other =
            parse_request(&crate::certmanager::csr::tests::request_for(&["a.example.com"], false).0).unwrap();
        assert!(
            assemble(chain.chain.clone(), None, &other, "01").is_err(),
            "another key"
        );
    }
}
