//! Property tests: every parser of service responses, PEM, PKCS#7 and keys takes random and
//! garbled input and answers with a value or a typed error, never a panic.

use proptest::prelude::*;
use tlm_operator::clients::certspotter::Issuance;
use tlm_operator::clients::error::parse_error_body;
use tlm_operator::clients::tlm_types::*;
use tlm_operator::pki::{
    LeafInfo, PrivateKey, certs_from_delivery, certs_from_pem, certs_from_pkcs7_der, order_chain,
    verify_chain,
};

const STATUS: &str = r#"{"serial_number":"0F6F","status":"issued","common_name":"a.example.com","thumbprint":"FE0E",
  "valid_from":"2026-01-01T00:00:00Z","valid_to":"2027-01-01T00:00:00Z","certificate":"MIIB","profile":{"id":"p","name":"n"}}"#;
const FORMATS: &str = r#"{"pkcs7":"-----BEGIN PKCS7-----\nMIIB\n-----END PKCS7-----","x509_cert_chain":[{"common_name":"a","cert_blob":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}]}"#;
const ISSUANCES: &str = r#"[{"id":"23527804","tbs_sha256":"e94a","dns_names":["*.example.com"],"pubkey_sha256":"9bc7",
  "issuer":{"name":"CN=x","pubkey_sha256":"691e"},"not_before":"2016-07-14T00:00:00-00:00","cert":{"type":"precert","data":"MIIE"}}]"#;

fn chain_pem() -> String {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let root_key = KeyPair::generate().unwrap();
    let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_cert = root.self_signed(&root_key).unwrap();
    let issuer = Issuer::new(root, root_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["a.example.com".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    format!("{}{}", leaf.pem(), root_cert.pem())
}

/// Everything a response may be fed to.
fn parse_all(bytes: &[u8]) {
    let _ = serde_json::from_slice::<Vec<Profile>>(bytes);
    let _ = serde_json::from_slice::<Profile>(bytes).map(|p| (p.may_need_approval(), p.validity_text()));
    let _ = serde_json::from_slice::<IssueResponse>(bytes).map(|r| r.outcome());
    let _ = serde_json::from_slice::<CertificateRecord>(bytes).map(|r| r.state());
    let _ = serde_json::from_slice::<AdditionalFormats>(bytes);
    let _ = serde_json::from_slice::<SearchPage>(bytes);
    let _ = serde_json::from_slice::<Vec<Issuance>>(bytes);
    let _ = parse_error_body(bytes);
    let text = String::from_utf8_lossy(bytes);
    if let Ok(certs) = certs_from_delivery(&text) {
        let _ = order_chain(&certs, None).map(|c| verify_chain(&c));
    }
    let _ = certs_from_pem(&text);
    let _ = certs_from_pkcs7_der(bytes);
    let _ = LeafInfo::parse(bytes);
    let _ = PrivateKey::from_pem(&text);
}

fn garble(sample: &[u8], cut: usize, flips: &[(usize, u8)]) -> Vec<u8> {
    let mut out = sample[..cut.min(sample.len())].to_vec();
    for (at, bits) in flips {
        if !out.is_empty() {
            let i = at % out.len();
            out[i] ^= bits;
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse_all(&bytes);
    }

    #[test]
    fn garbled_service_bodies(which in 0usize..3, cut in 0usize..1200, flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..8)) {
        let sample = [STATUS, FORMATS, ISSUANCES][which].as_bytes();
        parse_all(&garble(sample, cut, &flips));
    }

    #[test]
    fn garbled_certificates_and_chains(cut in 0usize..4000, flips in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..8)) {
        let pem = chain_pem();
        parse_all(&garble(pem.as_bytes(), cut, &flips));
        let der = certs_from_pem(&pem).unwrap();
        parse_all(&garble(&der[0], cut, &flips));
        let p7 = tlm_operator::pki::pkcs7_pem_from_certs(&der).unwrap();
        parse_all(&garble(p7.as_bytes(), cut, &flips));
    }
}
