//! What the Certificate lifecycle knows of a TLM Issuer: its spec and what its health check
//! read from the profile. No IO: messages and notes only.

use crate::api::{CertificateSpec, TlmIssuerConfig};
use crate::clients::error::ServiceError;

use super::request::validity;

#[derive(Clone, Debug)]
pub struct TlmSpec {
    pub config: TlmIssuerConfig,
    /// The profile lets the API set the validity (`override_cert_validity_via_api`).
    pub validity_override: bool,
    /// The profile's own validity, as the Issuer's status shows it.
    pub profile_validity: Option<String>,
}

impl TlmSpec {
    /// Where orders go, as Events name it.
    pub fn ordered_from(&self) -> String {
        format!("TLM profile {}", self.config.profile_id)
    }

    /// A 403: the key itself may be fine, the profile wrong or outside the key's business unit.
    pub fn access_denied(&self, e: &ServiceError) -> String {
        format!(
            "{e}: the API key has no access to profile {} or its business unit, or the profile does not exist (check the Issuer's profileId and the service user's business unit)",
            self.config.profile_id
        )
    }

    /// Why a requested validity is not sent, for conditions and Events; None when it is sent or
    /// none was asked for.
    pub fn validity_note(&self, spec: &CertificateSpec) -> Option<String> {
        if self.validity_override || validity(spec, &self.config).is_none() {
            return None;
        }
        Some(format!(
            "the profile's own validity applies ({}); it does not let the API override it, so the requested duration was not sent",
            self.profile_validity.as_deref().unwrap_or("as set in TLM")
        ))
    }
}
