//! The key and name vocabulary of `pki`, its own so that `pki` knows no CRD type; the
//! Certificate controller maps its spec onto these (`certificate::pki_terms`).

/// Private key algorithms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    RSA,
    #[default]
    ECDSA,
    Ed25519,
}

/// Encodings of a private key: PKCS#1 (RSA) or SEC1 (EC) where the algorithm has one, else PKCS#8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyEncoding {
    #[default]
    PKCS1,
    PKCS8,
}

/// The distinguished name attributes a CSR carries besides the common name, each possibly
/// repeated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectName {
    pub organizations: Vec<String>,
    pub organizational_units: Vec<String>,
    pub countries: Vec<String>,
    pub localities: Vec<String>,
    pub provinces: Vec<String>,
    pub street_addresses: Vec<String>,
    pub postal_codes: Vec<String>,
    pub serial_number: Option<String>,
}
