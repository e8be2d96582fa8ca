//! Request bodies, strict: unknown fields, missing required fields and wrong types are refused
//! (`bad_request_format`), then values are checked (CSR, names, validity, organization).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::csr::verify_csr_text;
use crate::errors::ApiError;
use crate::names::{SubjectAltNames, SubjectFields, normalize_dns_name};
use crate::tlm::store::LeafOrder;

use super::auth::bad_request;
use super::store::Requested;

/// Public TLS certificates are capped at 397 days (the Services API's order pages).
const MAX_CERT_DAYS: u64 = 397;
const MAX_ORDER_YEARS: u64 = 3;
const MAX_TEXT_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdRef {
    pub id: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
// Some documented fields are accepted but not simulated.
#[allow(dead_code)]
pub struct OrganizationRef {
    pub id: u64,
    #[serde(default)]
    pub contacts: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    pub years: Option<u64>,
    pub days: Option<u64>,
    pub custom_expiration_date: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
// Some documented fields are accepted but not simulated.
#[allow(dead_code)]
pub struct CertificateBody {
    pub common_name: Option<String>,
    pub dns_names: Option<Vec<String>>,
    pub csr: String,
    pub signature_hash: Option<String>,
    pub server_platform: Option<IdRef>,
    pub organization_units: Option<Vec<String>>,
    pub cert_validity: Option<Validity>,
    pub ca_cert_id: Option<String>,
    pub profile_option: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
// Some documented fields are accepted but not simulated.
#[allow(dead_code)]
pub struct OrderBody {
    pub certificate: CertificateBody,
    pub organization: Option<OrganizationRef>,
    pub container: Option<IdRef>,
    pub order_validity: Option<Validity>,
    pub validity_years: Option<u64>,
    pub validity_days: Option<u64>,
    pub custom_expiration_date: Option<String>,
    pub comments: Option<String>,
    pub skip_approval: Option<bool>,
    pub disable_renewal_notifications: Option<bool>,
    pub auto_renew: Option<u32>,
    pub custom_renewal_message: Option<String>,
    pub payment_method: Option<String>,
    pub dcv_method: Option<String>,
    pub disable_ct: Option<Value>,
    pub renewal_of_order_id: Option<u64>,
    pub locale: Option<String>,
    pub custom_fields: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
// Some documented fields are accepted but not simulated.
#[allow(dead_code)]
pub struct ReissueBody {
    pub certificate: CertificateBody,
    pub skip_approval: Option<bool>,
    pub comments: Option<String>,
    pub order_validity: Option<Validity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub text: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    pub comments: Option<String>,
    pub skip_approval: Option<bool>,
    pub revocation_reason: Option<String>,
}

pub const REVOCATION_REASONS: &[&str] = &[
    "unspecified",
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
];

pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        bad_request(
            "bad_request_format",
            format!("the request body is malformed: {e}"),
        )
    })
}

pub fn check_text(field: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES {
        return Err(bad_request(
            "invalid_input",
            format!("{field} must be 1 to {MAX_TEXT_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// The certificate lifetime an order asks for: exactly one way of saying the order's validity,
/// and optionally `certificate.cert_validity` for the first certificate.
pub fn order_lifetime(body: &OrderBody) -> Result<Duration, ApiError> {
    let forms = [
        body.order_validity.is_some(),
        body.validity_years.is_some(),
        body.validity_days.is_some(),
        body.custom_expiration_date.is_some(),
    ];
    if forms.iter().filter(|set| **set).count() != 1 {
        return Err(bad_request(
            "invalid_validity",
            "give exactly one of order_validity, validity_years, validity_days, custom_expiration_date",
        ));
    }
    let order_days = match (&body.order_validity, body.validity_years, body.validity_days) {
        (Some(validity), _, _) => validity_days("order_validity", validity)?,
        (_, Some(years), _) => years_to_days("validity_years", years)?,
        (_, _, Some(days)) => days_in_range("validity_days", days, MAX_ORDER_YEARS * 365)?,
        _ => date_to_days(
            "custom_expiration_date",
            body.custom_expiration_date.as_deref().unwrap_or_default(),
        )?,
    };
    let cert_days = match &body.certificate.cert_validity {
        Some(validity) => validity_days("certificate.cert_validity", validity)?,
        None => order_days,
    };
    Ok(Duration::from_secs(cert_days.min(MAX_CERT_DAYS) * 86_400))
}

fn validity_days(field: &str, validity: &Validity) -> Result<u64, ApiError> {
    match (validity.years, validity.days, &validity.custom_expiration_date) {
        (Some(years), None, None) => years_to_days(field, years),
        (None, Some(days), None) => days_in_range(field, days, MAX_ORDER_YEARS * 365),
        (None, None, Some(date)) => date_to_days(field, date),
        _ => Err(bad_request(
            "invalid_validity",
            format!("{field} needs exactly one of years, days, custom_expiration_date"),
        )),
    }
}

fn years_to_days(field: &str, years: u64) -> Result<u64, ApiError> {
    days_in_range(field, years.saturating_mul(365), MAX_ORDER_YEARS * 365)
}

fn days_in_range(field: &str, days: u64, max: u64) -> Result<u64, ApiError> {
    if (1..=max).contains(&days) {
        Ok(days)
    } else {
        Err(bad_request(
            "invalid_validity",
            format!("{field} must be 1 to {max} days"),
        ))
    }
}

fn date_to_days(field: &str, text: &str) -> Result<u64, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format)
        .map_err(|_| bad_request("invalid_validity", format!("{field} must be a YYYY-MM-DD date")))?;
    let days = (date - time::OffsetDateTime::now_utc().date()).whole_days();
    days_in_range(field, u64::try_from(days).unwrap_or(0), MAX_ORDER_YEARS * 365)
}

pub fn check_signature_hash(hash: Option<&str>) -> Result<(), ApiError> {
    match hash {
        None | Some("sha256" | "sha384" | "sha512") => Ok(()),
        Some(other) => Err(bad_request(
            "invalid_signature_hash",
            format!("signature_hash {other:?} is not one of sha256, sha384, sha512"),
        )),
    }
}

/// Verifies the CSR and that every requested name is one the CSR asks for (the sim is stricter
/// than CertCentral here, which takes the names from the body: a mismatch is a client bug).
/// `fallback` supplies the names a reissue leaves out.
pub fn requested(
    certificate: &CertificateBody,
    fallback: Option<&Requested>,
    lifetime: Duration,
) -> Result<Requested, ApiError> {
    check_signature_hash(certificate.signature_hash.as_deref())?;
    let csr = verify_csr_text(&certificate.csr)
        .map_err(|e| bad_request("csr_invalid_cannot_parse", format!("The CSR is invalid: {e}")))?;
    let common_name = match (&certificate.common_name, fallback) {
        (Some(cn), _) => cn.clone(),
        (None, Some(previous)) => previous.common_name.clone(),
        (None, None) => {
            return Err(bad_request(
                "bad_request_format",
                "certificate.common_name is required",
            ));
        }
    };
    let dns_names = match (&certificate.dns_names, fallback) {
        (Some(names), _) => names.clone(),
        (None, Some(previous)) => previous.dns_names.clone(),
        (None, None) => Vec::new(),
    };
    let in_csr: Vec<String> = csr
        .common_name
        .iter()
        .chain(csr.sans.dns_names.iter())
        .filter_map(|n| normalize_dns_name(n))
        .collect();
    let mut sans = Vec::new();
    for (field, name) in std::iter::once(("certificate.common_name", &common_name))
        .chain(dns_names.iter().map(|n| ("certificate.dns_names", n)))
    {
        let normalized = normalize_dns_name(name)
            .ok_or_else(|| bad_request("invalid_dns_name", format!("{field}: {name:?} is not a DNS name")))?;
        if !in_csr.contains(&normalized) {
            return Err(bad_request(
                "csr_names_mismatch",
                format!("{field}: {name:?} is not a name the CSR asks for"),
            ));
        }
        if !sans.contains(&normalized) {
            sans.push(normalized);
        }
    }
    let subject = SubjectFields {
        common_name: Some(common_name.clone()),
        organization_units: certificate.organization_units.clone().unwrap_or_default(),
        ..SubjectFields::default()
    };
    let leaf = LeafOrder {
        public_key: csr.public_key,
        spki_sha256: csr.spki_sha256,
        key: csr.key,
        subject,
        sans: SubjectAltNames {
            dns_names: sans,
            ..SubjectAltNames::default()
        },
        validity: lifetime,
    };
    Ok(Requested {
        leaf: Arc::new(leaf),
        csr: certificate.csr.clone(),
        common_name,
        dns_names,
    })
}
