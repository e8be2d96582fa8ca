//! Turning a checked request into a [`LeafOrder`]: the CSR's key, the names (from the request,
//! else the CSR or the renewed certificate) and the lifetime the profile allows.

use std::time::Duration;

use crate::csr::{VerifiedCsr, verify_csr_text};
use crate::errors::ApiError;
use crate::names::{SubjectAltNames, SubjectFields};
use crate::profiles::Profile;
use crate::tlm::attributes::{RequestedAttributes, checked_sans, checked_subject};
use crate::tlm::store::LeafOrder;

pub fn verified_csr(text: &str) -> Result<VerifiedCsr, ApiError> {
    verify_csr_text(text).map_err(|e| ApiError::invalid_field("csr", format!("Invalid CSR: {e}")))
}

/// A requested lifetime is only honoured where the profile allows overriding it. Refusing it
/// elsewhere is stricter than TLM is known to be, on purpose: a client must read the profile.
pub fn checked_validity(
    profile: &Profile,
    requested: Option<Duration>,
) -> Result<Option<Duration>, ApiError> {
    match requested {
        Some(_) if !profile.allow_validity_override => Err(ApiError::invalid_field(
            "validity",
            format!(
                "profile {} does not allow overriding the certificate validity",
                profile.id
            ),
        )),
        other => Ok(other),
    }
}

/// Names for a new certificate: `attributes` win; a missing CN falls back to the CSR's, and
/// SANs to the CSR's when the request lists none.
pub fn names_for_submit(
    profile: &Profile,
    csr: &VerifiedCsr,
    attributes: &RequestedAttributes,
) -> Result<(SubjectFields, SubjectAltNames), ApiError> {
    let mut subject = match &attributes.subject {
        Some(requested) => checked_subject(requested)?,
        None => SubjectFields::default(),
    };
    if subject.common_name.is_none() {
        subject.common_name = csr.common_name.clone();
    }
    let requested_sans = attributes.sans.as_ref().map(checked_sans).transpose()?;
    let sans = match requested_sans {
        Some(sans) if !sans.is_empty() => sans,
        Some(sans) => SubjectAltNames {
            registered_ids: sans.registered_ids,
            other_names: sans.other_names,
            ..csr.sans.clone()
        },
        None => csr.sans.clone(),
    };
    if let Some(common_name) = &subject.common_name
        && common_name.chars().count() > 64
    {
        return Err(ApiError::invalid_field(
            "attributes.subject.common_name",
            "common_name must be 1 to 64 characters",
        ));
    }
    if profile.common_name_required && subject.common_name.is_none() {
        return Err(ApiError::invalid_field(
            "attributes.subject.common_name",
            format!("common_name is required by profile {}", profile.id),
        ));
    }
    if subject.common_name.is_none() && sans.is_empty() {
        return Err(ApiError::invalid_field(
            "attributes",
            "a common_name or at least one subject alternative name is required",
        ));
    }
    Ok((subject, sans))
}

pub fn leaf_order(
    csr: VerifiedCsr,
    subject: SubjectFields,
    sans: SubjectAltNames,
    validity: Duration,
) -> LeafOrder {
    LeafOrder {
        spki_sha256: csr.spki_sha256,
        public_key: csr.public_key,
        key: csr.key,
        subject,
        sans,
        validity,
    }
}
