//! SHA-256 fingerprints in the two spellings the services use.

use sha2::{Digest, Sha256};

/// Lower-case hex, as Cert Spotter prints `tbs_sha256`, `pubkey_sha256` and `sha256`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Upper-case hex, as TLM prints a certificate `thumbprint`.
pub fn thumbprint(der: &[u8]) -> String {
    hex::encode_upper(Sha256::digest(der))
}
