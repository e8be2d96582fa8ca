use thiserror::Error;

/// What can be wrong with keys, CSRs and certificates. Messages describe the problem, never the
/// material.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PkiError {
    #[error("not valid PEM: {0}")]
    Pem(String),
    #[error("no certificate found in {0}")]
    NoCertificate(&'static str),
    #[error("certificate {index} in the chain cannot be parsed: {reason}")]
    Certificate { index: usize, reason: String },
    #[error("PKCS#7 data cannot be parsed: {0}")]
    Pkcs7(String),
    #[error("certificate chain is broken: {0}")]
    Chain(String),
    #[error("the certificate's public key is not the key the request was made with")]
    KeyMismatch,
    #[error("private key cannot be parsed or is of an unsupported type")]
    UnparsableKey,
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    #[error("CSR cannot be built: {0}")]
    Csr(String),
}
