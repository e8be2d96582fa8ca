//! Keys, CSRs, certificate chains and fingerprints. Everything here is pure (no IO) and returns
//! typed errors for malformed input; key material never appears in errors or `Debug` output.

mod chain;
mod csr;
mod error;
mod fingerprint;
mod key_types;
mod keys;
mod leaf;
mod pkcs7;

pub use chain::{certs_from_chain_answer, certs_from_delivery, certs_from_pem, order_chain, verify_chain};
pub use csr::{CsrRequest, build_csr_pem, csr_spki_sha256_hex};
pub use error::PkiError;
pub use fingerprint::{sha256_hex, spki_sha256_hex};
pub use key_types::{KeyAlgorithm, KeyEncoding, SubjectName};
pub use keys::{PrivateKey, effective_size as effective_key_size};
pub use leaf::LeafInfo;
pub use pkcs7::{certs_from_pkcs7_der, pkcs7_pem_from_certs};

/// A certificate in DER.
pub type CertDer = Vec<u8>;

/// One PEM block with `\n` line endings (what files and Secrets conventionally hold).
pub fn pem_encode(label: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// Encodes DER certificates as concatenated PEM blocks.
pub fn certs_to_pem(certs: &[CertDer]) -> String {
    certs
        .iter()
        .map(|der| pem_encode("CERTIFICATE", der.clone()))
        .collect()
}

#[cfg(test)]
pub(crate) mod test_ca;
