//! Private keys: generation (rcgen on aws-lc-rs), parsing from any of the PEM encodings we write,
//! and encoding as PKCS#1/SEC1 or PKCS#8.

use std::fmt;

use der::{Decode, Encode};
use rcgen::{KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm};

use super::PkiError;
use super::fingerprint::spki_sha256_hex;
use super::key_types::{KeyAlgorithm, KeyEncoding};

/// A private key generated for (or recovered from) a Certificate.
pub struct PrivateKey {
    pair: KeyPair,
    algorithm: KeyAlgorithm,
    size: u32,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("size", &self.size)
            .field("public_key_sha256", &self.spki_sha256_hex())
            .finish_non_exhaustive()
    }
}

/// The size the spec asks for, or the algorithm's default.
pub fn effective_size(algorithm: impl Into<KeyAlgorithm>, size: Option<u32>) -> u32 {
    match (algorithm.into(), size) {
        (KeyAlgorithm::Ed25519, _) => 256,
        (_, Some(size)) => size,
        (KeyAlgorithm::RSA, None) => 2048,
        (KeyAlgorithm::ECDSA, None) => 256,
    }
}

impl PrivateKey {
    /// Generates a new key. RSA 4096 takes about a second; callers run this off the async
    /// executor.
    pub fn generate(algorithm: impl Into<KeyAlgorithm>, size: Option<u32>) -> Result<Self, PkiError> {
        let algorithm = algorithm.into();
        let size = effective_size(algorithm, size);
        let gen_err = |e: rcgen::Error| PkiError::KeyGeneration(e.to_string());
        let pair = match (algorithm, size) {
            (KeyAlgorithm::ECDSA, 256) => {
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?
            }
            (KeyAlgorithm::ECDSA, 384) => {
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).map_err(gen_err)?
            }
            (KeyAlgorithm::Ed25519, _) => KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(gen_err)?,
            (KeyAlgorithm::RSA, bits) => {
                let rsa_size = match bits {
                    2048 => RsaKeySize::_2048,
                    3072 => RsaKeySize::_3072,
                    4096 => RsaKeySize::_4096,
                    other => return Err(PkiError::UnsupportedKey(format!("RSA {other} bits"))),
                };
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rsa_size).map_err(gen_err)?
            }
            (KeyAlgorithm::ECDSA, other) => {
                return Err(PkiError::UnsupportedKey(format!("ECDSA {other} bits")));
            }
        };
        Ok(Self {
            pair,
            algorithm,
            size,
        })
    }

    /// Parses a key from PEM in any encoding we write: PKCS#8 `PRIVATE KEY`, PKCS#1
    /// `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`.
    pub fn from_pem(pem_text: &str) -> Result<Self, PkiError> {
        let block = pem::parse(pem_text).map_err(|_| PkiError::UnparsableKey)?;
        let der = rustls_pki_types::PrivateKeyDer::try_from(block.contents())
            .map_err(|_| PkiError::UnparsableKey)?;
        // rcgen keeps the DER it was given; normalise to PKCS#8 so re-encoding works whatever
        // the key was stored as.
        let pkcs8 = match &der {
            rustls_pki_types::PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
            rustls_pki_types::PrivateKeyDer::Pkcs1(k) => pkcs1_to_pkcs8(k.secret_pkcs1_der())?,
            rustls_pki_types::PrivateKeyDer::Sec1(k) => sec1_to_pkcs8(k.secret_sec1_der())?,
            _ => return Err(PkiError::UnparsableKey),
        };
        let der = rustls_pki_types::PrivateKeyDer::Pkcs8(pkcs8.into());
        let pair = KeyPair::try_from(&der).map_err(|_| PkiError::UnparsableKey)?;
        let (algorithm, size) = classify(&pair)?;
        Ok(Self {
            pair,
            algorithm,
            size,
        })
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Key size in bits (256 for Ed25519).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Whether this key is what a spec asks for (used before reusing a key).
    pub fn satisfies(&self, algorithm: impl Into<KeyAlgorithm>, size: Option<u32>) -> bool {
        let algorithm = algorithm.into();
        self.algorithm == algorithm && self.size == effective_size(algorithm, size)
    }

    /// The rcgen key pair, for signing CSRs.
    pub fn key_pair(&self) -> &KeyPair {
        &self.pair
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// Lowercase hex SHA-256 of the SubjectPublicKeyInfo.
    pub fn spki_sha256_hex(&self) -> String {
        spki_sha256_hex(&self.spki_der())
    }

    /// PKCS#8 PEM, the form the next-private-key Secret stores.
    pub fn pkcs8_pem(&self) -> String {
        self.pair.serialize_pem()
    }

    /// DER in the requested encoding. Ed25519 has no PKCS#1 form and is always PKCS#8.
    pub fn to_der(&self, encoding: impl Into<KeyEncoding>) -> Result<Vec<u8>, PkiError> {
        let encoding = encoding.into();
        let pkcs8 = self.pair.serialize_der();
        match (encoding, self.algorithm) {
            (KeyEncoding::PKCS8, _) | (_, KeyAlgorithm::Ed25519) => {
                // aws-lc writes Ed25519 keys as PKCS#8 v2 with the public key attached, which
                // OpenSSL 3.0 refuses; v1 (RFC 5208) is what every consumer reads.
                let mut info =
                    pkcs8::PrivateKeyInfo::from_der(&pkcs8).map_err(|_| PkiError::UnparsableKey)?;
                info.public_key = None;
                info.to_der().map_err(|_| PkiError::UnparsableKey)
            }
            (KeyEncoding::PKCS1, KeyAlgorithm::RSA) => {
                let info = pkcs8::PrivateKeyInfo::from_der(&pkcs8).map_err(|_| PkiError::UnparsableKey)?;
                Ok(info.private_key.to_vec())
            }
            (KeyEncoding::PKCS1, KeyAlgorithm::ECDSA) => {
                let info = pkcs8::PrivateKeyInfo::from_der(&pkcs8).map_err(|_| PkiError::UnparsableKey)?;
                let curve = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| PkiError::UnsupportedKey("EC key without a named curve".into()))?;
                let mut ec =
                    sec1::EcPrivateKey::from_der(info.private_key).map_err(|_| PkiError::UnparsableKey)?;
                // SEC1 keys written on their own name their curve, as openssl and cert-manager do.
                ec.parameters = Some(sec1::EcParameters::NamedCurve(curve));
                ec.to_der().map_err(|_| PkiError::UnparsableKey)
            }
        }
    }

    /// PEM in the requested encoding.
    pub fn to_pem(&self, encoding: impl Into<KeyEncoding>) -> Result<String, PkiError> {
        let encoding = encoding.into();
        let label = match (encoding, self.algorithm) {
            (KeyEncoding::PKCS8, _) | (_, KeyAlgorithm::Ed25519) => "PRIVATE KEY",
            (KeyEncoding::PKCS1, KeyAlgorithm::RSA) => "RSA PRIVATE KEY",
            (KeyEncoding::PKCS1, KeyAlgorithm::ECDSA) => "EC PRIVATE KEY",
        };
        Ok(super::pem_encode(label, self.to_der(encoding)?))
    }
}

const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Result<Vec<u8>, PkiError> {
    let info = pkcs8::PrivateKeyInfo {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(der::asn1::AnyRef::NULL),
        },
        private_key: pkcs1,
        public_key: None,
    };
    info.to_der().map_err(|_| PkiError::UnparsableKey)
}

fn sec1_to_pkcs8(sec1_der: &[u8]) -> Result<Vec<u8>, PkiError> {
    let mut ec = sec1::EcPrivateKey::from_der(sec1_der).map_err(|_| PkiError::UnparsableKey)?;
    let curve = ec
        .parameters
        .and_then(|p| p.named_curve())
        .ok_or_else(|| PkiError::UnsupportedKey("EC key without a named curve".into()))?;
    // Inside PKCS#8 the curve lives in the algorithm identifier (RFC 5915 §3).
    ec.parameters = None;
    let inner = ec.to_der().map_err(|_| PkiError::UnparsableKey)?;
    let curve_der = curve.to_der().map_err(|_| PkiError::UnparsableKey)?;
    let params = der::asn1::AnyRef::from_der(&curve_der).map_err(|_| PkiError::UnparsableKey)?;
    let info = pkcs8::PrivateKeyInfo {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: EC_PUBLIC_KEY,
            parameters: Some(params),
        },
        private_key: &inner,
        public_key: None,
    };
    info.to_der().map_err(|_| PkiError::UnparsableKey)
}

fn classify(pair: &KeyPair) -> Result<(KeyAlgorithm, u32), PkiError> {
    let alg: &SignatureAlgorithm = pair.algorithm();
    if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
        Ok((KeyAlgorithm::ECDSA, 256))
    } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
        Ok((KeyAlgorithm::ECDSA, 384))
    } else if alg == &rcgen::PKCS_ED25519 {
        Ok((KeyAlgorithm::Ed25519, 256))
    } else if alg == &rcgen::PKCS_RSA_SHA256
        || alg == &rcgen::PKCS_RSA_SHA384
        || alg == &rcgen::PKCS_RSA_SHA512
    {
        let spki = pair.subject_public_key_info();
        let (_, parsed) =
            <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<_>>::from_der(&spki)
                .map_err(|_| PkiError::UnparsableKey)?;
        match parsed.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                Ok((KeyAlgorithm::RSA, rsa.key_size() as u32))
            }
            _ => Err(PkiError::UnparsableKey),
        }
    } else {
        Err(PkiError::UnsupportedKey("unsupported key algorithm".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_key_round_trips_through_every_encoding() {
        let cases = [
            (KeyAlgorithm::ECDSA, Some(256), "EC PRIVATE KEY"),
            (KeyAlgorithm::ECDSA, Some(384), "EC PRIVATE KEY"),
            (KeyAlgorithm::Ed25519, None, "PRIVATE KEY"),
            (KeyAlgorithm::RSA, Some(2048), "RSA PRIVATE KEY"),
        ];
        for (alg, size, pkcs1_label) in cases {
            let key = PrivateKey::generate(alg, size).unwrap();
            for (encoding, label) in [
                (KeyEncoding::PKCS1, pkcs1_label),
                (KeyEncoding::PKCS8, "PRIVATE KEY"),
            ] {
                let pem_text = key.to_pem(encoding).unwrap();
                assert!(
                    pem_text.starts_with(&format!("-----BEGIN {label}-----")),
                    "{alg:?} {encoding:?}"
                );
                let back = PrivateKey::from_pem(&pem_text).unwrap();
                assert_eq!(
                    back.spki_der(),
                    key.spki_der(),
                    "{alg:?} {encoding:?} keeps the key"
                );
                assert!(back.satisfies(alg, size));
                // A loaded key re-encodes to every encoding (rotationPolicy: Never copies keys).
                let again = PrivateKey::from_pem(&back.pkcs8_pem()).unwrap();
                assert_eq!(again.spki_der(), key.spki_der());
                assert_eq!(
                    back.to_pem(encoding).unwrap(),
                    pem_text,
                    "{alg:?} {encoding:?} re-encodes identically"
                );
            }
        }
    }

    #[test]
    fn pkcs8_output_is_version_1_without_public_key() {
        for alg in [KeyAlgorithm::Ed25519, KeyAlgorithm::ECDSA] {
            let key = PrivateKey::generate(alg, None).unwrap();
            let der = key.to_der(KeyEncoding::PKCS8).unwrap();
            let info = pkcs8::PrivateKeyInfo::from_der(&der).unwrap();
            assert!(info.public_key.is_none(), "{alg:?}");
            assert_eq!(info.version(), pkcs8::Version::V1);
        }
    }

    #[test]
    fn sec1_output_names_its_curve() {
        let key = PrivateKey::generate(KeyAlgorithm::ECDSA, Some(384)).unwrap();
        let der = key.to_der(KeyEncoding::PKCS1).unwrap();
        let ec = sec1::EcPrivateKey::from_der(&der).unwrap();
        assert_eq!(
            ec.parameters.and_then(|p| p.named_curve()).unwrap().to_string(),
            "1.3.132.0.34"
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
        let debug = format!("{key:?}");
        let pem_body: String = key
            .pkcs8_pem()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(!debug.contains(&pem_body[..20]));
        assert!(debug.contains("ECDSA"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(
            PrivateKey::from_pem("hello").unwrap_err(),
            PkiError::UnparsableKey
        );
        let bad = crate::pki::pem_encode("PRIVATE KEY", vec![1, 2, 3]);
        assert_eq!(PrivateKey::from_pem(&bad).unwrap_err(), PkiError::UnparsableKey);
    }

    #[test]
    fn unsupported_sizes_are_refused() {
        assert!(PrivateKey::generate(KeyAlgorithm::RSA, Some(1024)).is_err());
        assert!(PrivateKey::generate(KeyAlgorithm::ECDSA, Some(521)).is_err());
    }
}
