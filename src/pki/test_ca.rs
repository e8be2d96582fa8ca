//! A root → intermediate → leaf chain for unit tests.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::KeyAlgorithm;
use super::{CertDer, PrivateKey};

pub struct TestChain {
    pub leaf_key: PrivateKey,
    /// leaf, intermediate, root
    pub chain: Vec<CertDer>,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
}

pub fn chain_for(names: &[&str]) -> TestChain {
    let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    chain_with(names, key, None)
}

/// A chain whose leaf is for `key`, valid for `validity` (unix seconds) when given.
pub fn chain_with(names: &[&str], leaf_key: PrivateKey, validity: Option<(i64, i64)>) -> TestChain {
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params("Test Root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::new(root_params, root_key);
    let int_key = KeyPair::generate().unwrap();
    let int_params = ca_params("Test Intermediate");
    let int = int_params.signed_by(&int_key, &root_issuer).unwrap();
    let int_issuer = Issuer::new(int_params, int_key);
    let mut leaf_params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    leaf_params.distinguished_name.push(DnType::CommonName, names[0]);
    if let Some((from, to)) = validity {
        leaf_params.not_before = time::OffsetDateTime::from_unix_timestamp(from).unwrap();
        leaf_params.not_after = time::OffsetDateTime::from_unix_timestamp(to).unwrap();
    }
    let leaf = leaf_params.signed_by(leaf_key.key_pair(), &int_issuer).unwrap();
    TestChain {
        leaf_key,
        chain: vec![leaf.der().to_vec(), int.der().to_vec(), root.der().to_vec()],
    }
}
