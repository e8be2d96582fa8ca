use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lowercase hex SHA-256 of a DER SubjectPublicKeyInfo: the key identity Cert Spotter reports as
/// `pubkey_sha256` and the simulator counts orders by.
pub fn spki_sha256_hex(spki_der: &[u8]) -> String {
    sha256_hex(spki_der)
}
