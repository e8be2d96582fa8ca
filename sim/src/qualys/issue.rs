//! Status progression and signing: `SUBMITTED` -> `APPROVED` (caStatus `pending`) -> `ISSUED`
//! (caStatus `issued`), or `CANCELLED` / `REJECTED`; DigiCert's refusal leaves `APPROVED` with
//! caStatus `rejected`. Signing happens outside the lock.

use rcgen::{KeyPair, PublicKeyData, SubjectPublicKeyInfo};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::store::{LeafRequest, Status};
use crate::ca::{IssuedCertificate, LeafSpec, random_serial};
use crate::digest::sha256_hex;
use crate::names::{SubjectAltNames, SubjectFields};
use crate::state::{AppState, lock};

/// The sim's issuing CA as the request's `intermediateCA` names it.
pub struct CaIdentity {
    pub name: String,
    /// SHA-256 of the DER, lower-case hex (the view page's sample is 64 hex digits).
    pub certhash: String,
    /// Serial number, lower-case hex.
    pub serial: String,
}

pub fn intermediate_identity(state: &AppState) -> CaIdentity {
    let der = &state.ca.intermediate.der;
    let serial = X509Certificate::from_der(der)
        .map(|(_, c)| hex::encode(c.raw_serial()))
        .unwrap_or_default();
    CaIdentity {
        name: state.ca.intermediate.common_name.clone(),
        certhash: sha256_hex(der),
        serial,
    }
}

/// Why a status change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no enrollment request {0}")]
    NotFound(String),
    #[error("the request is {0}")]
    WrongState(&'static str),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// An approver said yes: `APPROVED`, and issued at once unless issuance is manual.
pub fn approve(state: &AppState, uuid: &str) -> Result<(), ChangeError> {
    transition(state, uuid, &[Status::Submitted], |e| {
        e.status = Status::Approved;
        e.ca_status = "pending".into();
    })?;
    if state.options.qualys.manual_issuance {
        return Ok(());
    }
    issue(state, uuid)
}

/// Cancel (the requester) or reject (an approver) a request that is not approved yet.
pub fn close(state: &AppState, uuid: &str, status: Status) -> Result<(), ChangeError> {
    transition(state, uuid, &[Status::Submitted], |e| e.status = status)
}

/// DigiCert refused the order: it stays `APPROVED` with caStatus `rejected`.
pub fn ca_reject(state: &AppState, uuid: &str) -> Result<(), ChangeError> {
    transition(state, uuid, &[Status::Approved], |e| {
        e.ca_status = "rejected".into()
    })
}

/// DigiCert issued: sign the leaf, then `ISSUED`.
pub fn issue(state: &AppState, uuid: &str) -> Result<(), ChangeError> {
    let (leaf, faults) = {
        let book = lock(&state.qualys);
        let e = book.get(uuid).ok_or_else(|| ChangeError::NotFound(uuid.into()))?;
        let pending = matches!(e.status, Status::Submitted | Status::Approved) && e.ca_status != "rejected";
        if !pending {
            return Err(ChangeError::WrongState(e.status.wire_name()));
        }
        (e.leaf.clone(), e.faults)
    };
    let leaf = if faults.wrong_names {
        wrong_names(leaf)
    } else {
        leaf
    };
    let leaf = if faults.wrong_key {
        fresh_key(leaf).map_err(|e| ChangeError::Signing(e.to_string()))?
    } else {
        leaf
    };
    let certificate = sign(state, &leaf).map_err(|e| ChangeError::Signing(e.to_string()))?;
    transition(state, uuid, &[Status::Submitted, Status::Approved], move |e| {
        e.status = Status::Issued;
        e.ca_status = "issued".into();
        e.issued = Some(certificate);
    })
}

fn transition(
    state: &AppState,
    uuid: &str,
    from: &[Status],
    change: impl FnOnce(&mut super::store::Enrollment),
) -> Result<(), ChangeError> {
    let mut book = lock(&state.qualys);
    let enrollment = book
        .get_mut(uuid)
        .ok_or_else(|| ChangeError::NotFound(uuid.into()))?;
    if !from.contains(&enrollment.status) {
        return Err(ChangeError::WrongState(enrollment.status.wire_name()));
    }
    change(enrollment);
    enrollment.updated = OffsetDateTime::now_utc();
    Ok(())
}

fn sign(state: &AppState, leaf: &LeafRequest) -> anyhow::Result<IssuedCertificate> {
    let subject = SubjectFields {
        common_name: Some(leaf.common_name.clone()),
        organization_units: leaf.organization_units.clone(),
        ..Default::default()
    };
    let sans = SubjectAltNames {
        dns_names: leaf.dns_names.clone(),
        ..Default::default()
    };
    let serial = random_serial();
    let not_before = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let issued = state.ca.issue(&LeafSpec {
        serial: &serial,
        subject: &subject,
        sans: &sans,
        not_before,
        not_after: leaf.not_after.max(not_before + time::Duration::seconds(1)),
        public_key: &leaf.public_key,
        key_encipherment: leaf.rsa,
    })?;
    // A DigiCert public certificate is logged: the simulated CT log sees this one too.
    crate::certspotter::feed::publish(state, Some(&leaf.common_name), &leaf.dns_names, &issued);
    Ok(issued)
}

fn fresh_key(leaf: LeafRequest) -> anyhow::Result<LeafRequest> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let spki = key.subject_public_key_info();
    Ok(LeafRequest {
        public_key: SubjectPublicKeyInfo::from_der(&spki)?,
        spki_sha256: sha256_hex(&spki),
        rsa: false,
        ..leaf
    })
}

fn wrong_names(mut leaf: LeafRequest) -> LeafRequest {
    let wrong = |name: &str| match name.strip_prefix("*.") {
        Some(rest) => format!("*.wrong-{rest}"),
        None => format!("wrong-{name}"),
    };
    leaf.common_name = wrong(&leaf.common_name);
    leaf.dns_names = leaf.dns_names.iter().map(|n| wrong(n)).collect();
    leaf
}
