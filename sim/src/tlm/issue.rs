//! Signing: turns an accepted request into stored certificates, applying the issuance faults
//! drawn for the request that triggered the signing, and logs the result in the CT feed.

use std::sync::Arc;

use rcgen::{KeyPair, PublicKeyData, SubjectPublicKeyInfo};
use time::OffsetDateTime;

use crate::ca::{IssuedCertificate, LeafSpec, random_serial};
use crate::csr::KeyKind;
use crate::digest::sha256_hex;
use crate::faults::IssuanceFaults;
use crate::names::normalize_dns_name;
use crate::profiles::Profile;
use crate::state::{AppState, read, write};
use crate::tlm::store::{CertificateRecord, CertificateState, CertificateStore, LeafOrder, RequestState};

/// Why a pending request could not be released or rejected.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("no request {0}")]
    NotFound(String),
    #[error("request {request_id} is {state}, not PENDING")]
    NotPending { request_id: String, state: &'static str },
    #[error("signing failed: {0}")]
    Signing(String),
}

/// What a certificate is signed for, besides the order itself.
pub struct Issuance<'a> {
    pub profile: &'a Profile,
    pub seat_id: &'a str,
    pub requested: &'a Arc<LeafOrder>,
    pub include_ca_chain: bool,
    pub renewal_of: Option<&'a str>,
}

/// Signs the leaf (no lock held) and returns the records to store, the real one last: a
/// colliding profile first gets a decoy with the same serial but its own key, which is never
/// logged to CT.
pub fn sign(
    state: &AppState,
    issuance: &Issuance<'_>,
    faults: IssuanceFaults,
) -> anyhow::Result<Vec<CertificateRecord>> {
    let mut issued = (**issuance.requested).clone();
    if faults.wrong_key {
        issued = with_fresh_key(issued)?;
    }
    if faults.wrong_names {
        issued = with_wrong_names(issued);
    }
    let issued = Arc::new(issued);
    let serial = fresh_serial(&read(&state.certificates));
    let not_before = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let mut records = Vec::new();
    if issuance.profile.collide {
        let decoy = Arc::new(with_fresh_key((*issued).clone())?);
        let certificate = sign_leaf(state, &serial, &decoy, not_before)?;
        records.push(record(issuance, decoy, certificate, false));
    }
    let certificate = sign_leaf(state, &serial, &issued, not_before)?;
    crate::certspotter::feed::publish(
        state,
        issued.subject.common_name.as_deref(),
        &issued.sans.dns_names,
        &certificate,
    );
    records.push(record(issuance, issued, certificate, faults.broken_chain));
    Ok(records)
}

/// Stores signed records; returns the serial they share.
pub fn store(store: &mut CertificateStore, records: Vec<CertificateRecord>) -> Option<String> {
    let serial = records.last().map(|record| record.serial.clone());
    for record in records {
        store.add_certificate(record);
    }
    serial
}

/// Issues a pending request now (admin approval, or the pickup that releases it).
pub fn release(state: &AppState, index: usize, faults: IssuanceFaults) -> Result<String, ReleaseError> {
    let label = |store: &CertificateStore| {
        store
            .request(index)
            .and_then(|r| r.request_id.clone())
            .unwrap_or_else(|| format!("#{index}"))
    };
    let (profile_id, seat_id, order, include_ca_chain) = {
        let mut store = write(&state.certificates);
        let request_id = label(&store);
        let request = store
            .request_mut(index)
            .ok_or_else(|| ReleaseError::NotFound(request_id.clone()))?;
        if request.state != RequestState::Pending {
            return Err(ReleaseError::NotPending {
                request_id,
                state: request.state.wire_name(),
            });
        }
        request.state = RequestState::Issuing;
        (
            request.profile_id,
            request.seat_id.clone(),
            request.order.clone(),
            request.include_ca_chain,
        )
    };
    let signed = state
        .profile(profile_id)
        .ok_or_else(|| anyhow::anyhow!("profile {profile_id} is gone"))
        .and_then(|profile| {
            sign(
                state,
                &Issuance {
                    profile,
                    seat_id: &seat_id,
                    requested: &order,
                    include_ca_chain,
                    renewal_of: None,
                },
                faults,
            )
        });
    let mut store = write(&state.certificates);
    let outcome = match signed {
        Ok(records) => {
            self::store(&mut store, records).ok_or_else(|| ReleaseError::Signing("nothing signed".into()))
        }
        Err(error) => Err(ReleaseError::Signing(error.to_string())),
    };
    if let Some(request) = store.request_mut(index) {
        match &outcome {
            Ok(serial) => {
                request.state = RequestState::Issued;
                request.serial = Some(serial.clone());
            }
            Err(_) => request.state = RequestState::Pending,
        }
    }
    outcome
}

fn record(
    issuance: &Issuance<'_>,
    issued: Arc<LeafOrder>,
    certificate: IssuedCertificate,
    broken_chain: bool,
) -> CertificateRecord {
    CertificateRecord {
        seq: 0,
        serial: certificate.serial_hex.clone(),
        profile_id: issuance.profile.id,
        seat_id: issuance.seat_id.to_string(),
        requested: issuance.requested.clone(),
        issued,
        certificate: Arc::new(certificate),
        state: CertificateState::Issued,
        include_ca_chain: issuance.include_ca_chain,
        broken_chain,
        renewal_of: issuance.renewal_of.map(String::from),
    }
}

fn fresh_serial(store: &CertificateStore) -> [u8; 20] {
    loop {
        let serial = random_serial();
        if !store.serial_taken(&hex::encode_upper(serial)) {
            return serial;
        }
    }
}

fn sign_leaf(
    state: &AppState,
    serial: &[u8; 20],
    order: &LeafOrder,
    not_before: OffsetDateTime,
) -> anyhow::Result<IssuedCertificate> {
    let validity = time::Duration::try_from(order.validity)?;
    state.ca.issue(&LeafSpec {
        serial,
        subject: &order.subject,
        sans: &order.sans,
        not_before,
        not_after: not_before + validity,
        public_key: &order.public_key,
        key_encipherment: matches!(order.key, KeyKind::Rsa { .. }),
    })
}

/// The same order for a key nobody asked for (the wrong_key fault, and decoys).
fn with_fresh_key(order: LeafOrder) -> anyhow::Result<LeafOrder> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let spki = key.subject_public_key_info();
    Ok(LeafOrder {
        public_key: SubjectPublicKeyInfo::from_der(&spki)?,
        spki_sha256: sha256_hex(&spki),
        key: KeyKind::EcdsaP256,
        ..order
    })
}

/// Every DNS name (and a DNS-name CN) prefixed with `wrong-` (the wrong_names fault).
fn with_wrong_names(mut order: LeafOrder) -> LeafOrder {
    let wrong = |name: &str| match name.strip_prefix("*.") {
        Some(rest) => format!("*.wrong-{rest}"),
        None => format!("wrong-{name}"),
    };
    order.sans.dns_names = order.sans.dns_names.iter().map(|n| wrong(n)).collect();
    if let Some(cn) = &order.subject.common_name
        && normalize_dns_name(cn).is_some()
    {
        order.subject.common_name = Some(wrong(cn));
    }
    if order.sans.dns_names.is_empty() {
        // Nothing to rename: add a name nobody asked for, so the names still differ.
        order.sans.dns_names.push("wrong-name.example".into());
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{SubjectAltNames, SubjectFields};

    #[test]
    fn wrong_names_differ_from_every_requested_name() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let order = LeafOrder {
            public_key: SubjectPublicKeyInfo::from_der(&key.subject_public_key_info()).expect("spki"),
            spki_sha256: String::new(),
            key: KeyKind::EcdsaP256,
            subject: SubjectFields {
                common_name: Some("a.example.com".into()),
                ..SubjectFields::default()
            },
            sans: SubjectAltNames {
                dns_names: vec!["a.example.com".into(), "*.example.com".into()],
                ..SubjectAltNames::default()
            },
            validity: std::time::Duration::from_secs(60),
        };
        let wrong = with_wrong_names(order.clone());
        assert_eq!(
            wrong.sans.dns_names,
            vec!["wrong-a.example.com", "*.wrong-example.com"]
        );
        assert_eq!(wrong.subject.common_name.as_deref(), Some("wrong-a.example.com"));
        let rekeyed = with_fresh_key(order.clone()).expect("fresh key");
        assert_ne!(rekeyed.public_key.der_bytes(), order.public_key.der_bytes());
        assert_eq!(rekeyed.subject, order.subject);
    }
}
