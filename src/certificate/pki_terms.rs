//! The Certificate spec's key and name settings in `pki`'s own terms (`pki` knows no CRD type).

use crate::api;
use crate::pki;

impl From<api::KeyAlgorithm> for pki::KeyAlgorithm {
    fn from(algorithm: api::KeyAlgorithm) -> Self {
        match algorithm {
            api::KeyAlgorithm::RSA => pki::KeyAlgorithm::RSA,
            api::KeyAlgorithm::ECDSA => pki::KeyAlgorithm::ECDSA,
            api::KeyAlgorithm::Ed25519 => pki::KeyAlgorithm::Ed25519,
        }
    }
}

impl From<pki::KeyAlgorithm> for api::KeyAlgorithm {
    fn from(algorithm: pki::KeyAlgorithm) -> Self {
        match algorithm {
            pki::KeyAlgorithm::RSA => api::KeyAlgorithm::RSA,
            pki::KeyAlgorithm::ECDSA => api::KeyAlgorithm::ECDSA,
            pki::KeyAlgorithm::Ed25519 => api::KeyAlgorithm::Ed25519,
        }
    }
}

impl From<api::KeyEncoding> for pki::KeyEncoding {
    fn from(encoding: api::KeyEncoding) -> Self {
        match encoding {
            api::KeyEncoding::PKCS1 => pki::KeyEncoding::PKCS1,
            api::KeyEncoding::PKCS8 => pki::KeyEncoding::PKCS8,
        }
    }
}

impl From<api::Subject> for pki::SubjectName {
    fn from(subject: api::Subject) -> Self {
        let api::Subject {
            organizations,
            organizational_units,
            countries,
            localities,
            provinces,
            street_addresses,
            postal_codes,
            serial_number,
        } = subject;
        pki::SubjectName {
            organizations,
            organizational_units,
            countries,
            localities,
            provinces,
            street_addresses,
            postal_codes,
            serial_number,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_maps_there_and_back() {
        for a in [
            api::KeyAlgorithm::RSA,
            api::KeyAlgorithm::ECDSA,
            api::KeyAlgorithm::Ed25519,
        ] {
            assert_eq!(api::KeyAlgorithm::from(pki::KeyAlgorithm::from(a)), a);
        }
    }
}
