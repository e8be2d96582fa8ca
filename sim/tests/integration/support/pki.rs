//! Keys, CSRs, and checks of the certificates and chains the sim hands out.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData, RsaKeySize};
use serde_json::Value;
use x509_parser::prelude::{FromDer, X509Certificate};

#[derive(Clone, Copy, Debug)]
pub enum KeyAlg {
    Rsa2048,
    P256,
    P384,
    Ed25519,
}

pub const ALL_KEY_ALGS: [KeyAlg; 4] = [KeyAlg::Rsa2048, KeyAlg::P256, KeyAlg::P384, KeyAlg::Ed25519];

pub fn key_pair(alg: KeyAlg) -> KeyPair {
    match alg {
        KeyAlg::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyAlg::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlg::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyAlg::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
    }
    .expect("key generation")
}

/// A CSR signed by `key`, with an optional CN and DNS/IP SANs.
pub fn csr_pem(key: &KeyPair, common_name: Option<&str>, sans: &[&str]) -> String {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("csr params");
    params.distinguished_name = DistinguishedName::new();
    if let Some(cn) = common_name {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params
        .serialize_request(key)
        .expect("csr")
        .pem()
        .expect("csr pem")
}

pub fn spki_der(key: &KeyPair) -> Vec<u8> {
    key.subject_public_key_info()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Every PEM block's DER, in order.
pub fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .map(|pem| {
            let pem = pem.expect("valid PEM block");
            (pem.label, pem.contents)
        })
        .collect()
}

pub fn single_cert_der(pem: &str) -> Vec<u8> {
    let blocks = pem_blocks(pem);
    assert_eq!(blocks.len(), 1, "expected exactly one PEM block");
    assert_eq!(blocks[0].0, "CERTIFICATE");
    blocks[0].1.clone()
}

pub fn parse_cert(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = X509Certificate::from_der(der).expect("certificate parses");
    assert!(rest.is_empty(), "trailing bytes after certificate");
    cert
}

/// Checks leaf → intermediate → root by signature, the root against the sim's trust anchor,
/// and that the leaf carries exactly `expected_spki`.
pub fn verify_chain(
    leaf_der: &[u8],
    intermediate_der: &[u8],
    root_der: &[u8],
    root_pem: &str,
    expected_spki: &[u8],
) {
    let leaf = parse_cert(leaf_der);
    let intermediate = parse_cert(intermediate_der);
    let root = parse_cert(root_der);
    leaf.verify_signature(Some(intermediate.public_key()))
        .expect("leaf signed by intermediate");
    intermediate
        .verify_signature(Some(root.public_key()))
        .expect("intermediate signed by root");
    root.verify_signature(None).expect("root is self-signed");
    assert_eq!(
        root_der,
        single_cert_der(root_pem).as_slice(),
        "root is the sim's trust anchor"
    );
    assert_eq!(leaf.issuer(), intermediate.subject());
    assert!(intermediate.is_ca() && root.is_ca() && !leaf.is_ca());
    assert_eq!(leaf.public_key().raw, expected_spki, "leaf carries the CSR key");
}

/// Certificates inside a PEM PKCS#7 certs-only bundle, decoded independently with `cms`.
pub fn pkcs7_certificates(pem: &str) -> Vec<Vec<u8>> {
    use cms::cert::CertificateChoices;
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    use der::{Decode, Encode};
    let blocks = pem_blocks(pem);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].0, "PKCS7");
    let content_info = ContentInfo::from_der(&blocks[0].1).expect("ContentInfo");
    assert_eq!(content_info.content_type, const_oid::db::rfc5911::ID_SIGNED_DATA);
    let signed: SignedData = content_info.content.decode_as().expect("SignedData");
    assert!(
        signed.signer_infos.0.is_empty(),
        "certs-only bundles have no signers"
    );
    signed
        .certificates
        .expect("certificates present")
        .0
        .iter()
        .map(|choice| match choice {
            CertificateChoices::Certificate(cert) => cert.to_der().expect("re-encode"),
            CertificateChoices::Other(_) => panic!("unexpected certificate format"),
        })
        .collect()
}

/// Orders an unordered set (PKCS#7) into leaf, intermediate, root by issuer/subject links.
pub fn order_chain(mut certs: Vec<Vec<u8>>) -> [Vec<u8>; 3] {
    assert_eq!(certs.len(), 3);
    let leaf_index = certs
        .iter()
        .position(|der| !parse_cert(der).is_ca())
        .expect("a leaf");
    let leaf = certs.remove(leaf_index);
    let leaf_issuer = parse_cert(&leaf).issuer().to_string();
    let intermediate_index = certs
        .iter()
        .position(|der| parse_cert(der).subject().to_string() == leaf_issuer)
        .expect("intermediate");
    let intermediate = certs.remove(intermediate_index);
    let root = certs.remove(0);
    [leaf, intermediate, root]
}

/// `GET /certificate/{serial}` and search items carry base64 DER without armour.
pub fn status_der(status: &Value) -> Vec<u8> {
    let text = status["certificate"].as_str().expect("certificate");
    assert!(!text.contains("-----BEGIN"), "base64 DER, not PEM: {text}");
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).expect("base64 DER")
}
