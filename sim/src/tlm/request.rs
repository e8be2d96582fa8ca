//! Enrollment request bodies (submit and renew) in both shapes clients send, and the checks that
//! turn one into a [`LeafOrder`].

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::ca::MAX_LEAF_LIFETIME;
use crate::csr::{VerifiedCsr, verify_csr_pem};
use crate::errors::ApiError;
use crate::names::{SubjectAltNames, SubjectFields, normalize_dns_name};
use crate::profiles::Profile;
use crate::tlm::store::LeafOrder;

/// The top-level shape real clients send, with the tutorial's nested `profile.{seat,csr,...}`
/// accepted as an alternative spelling of the same fields.
#[derive(Debug, Default, Deserialize)]
struct RawBody {
    profile: Option<RawProfile>,
    seat: Option<RawSeat>,
    csr: Option<String>,
    validity: Option<RequestedValidity>,
    attributes: Option<RequestedAttributes>,
}

#[derive(Debug, Default, Deserialize)]
struct RawProfile {
    id: Option<String>,
    seat: Option<RawSeat>,
    csr: Option<String>,
    validity: Option<RequestedValidity>,
    attributes: Option<RequestedAttributes>,
}

#[derive(Debug, Default, Deserialize)]
struct RawSeat {
    seat_id: Option<String>,
    id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RequestedValidity {
    pub unit: String,
    pub duration: u64,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RequestedAttributes {
    pub subject: Option<RequestedSubject>,
    pub extensions: Option<RequestedExtensions>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RequestedSubject {
    pub common_name: Option<String>,
    pub organization_name: Option<String>,
    pub organization_units: Option<OneOrMany>,
    pub organization_unit: Option<OneOrMany>,
    pub locality: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RequestedExtensions {
    pub san: Option<RequestedSans>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RequestedSans {
    #[serde(default)]
    pub dns_names: Vec<String>,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub uris: Vec<String>,
}

/// A parsed enrollment body, both shapes merged (top-level fields win).
#[derive(Debug, Default)]
pub struct EnrollmentRequest {
    pub profile_id: Option<String>,
    pub seat_id: Option<String>,
    pub csr: Option<String>,
    pub validity: Option<RequestedValidity>,
    pub attributes: Option<RequestedAttributes>,
}

pub fn parse_enrollment(body: &[u8]) -> Result<EnrollmentRequest, ApiError> {
    let raw: RawBody = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_input(format!("Wrong input or input format: {e}")))?;
    let nested = raw.profile.unwrap_or_default();
    let seat = raw.seat.or(nested.seat).unwrap_or_default();
    Ok(EnrollmentRequest {
        profile_id: nested.id,
        seat_id: seat.seat_id.or(seat.id),
        csr: raw.csr.or(nested.csr),
        validity: raw.validity.or(nested.validity),
        attributes: raw.attributes.or(nested.attributes),
    })
}

pub fn verified_csr(request: &EnrollmentRequest) -> Result<VerifiedCsr, ApiError> {
    let csr = request
        .csr
        .as_deref()
        .ok_or_else(|| ApiError::invalid_input("csr is required"))?;
    verify_csr_pem(csr).map_err(|e| ApiError::invalid_input(format!("Invalid CSR: {e}")))
}

/// Where names come from when the request's `attributes` leave them out: the CSR on submit,
/// the old certificate on renew.
pub struct NameDefaults {
    pub subject: SubjectFields,
    pub sans: SubjectAltNames,
    pub validity: Duration,
}

pub fn build_order(
    profile: &Profile,
    csr: VerifiedCsr,
    request: &EnrollmentRequest,
    defaults: NameDefaults,
) -> Result<LeafOrder, ApiError> {
    let attributes = request.attributes.clone().unwrap_or_default();
    let mut subject = match &attributes.subject {
        Some(requested) => subject_from(requested)?,
        None => defaults.subject.clone(),
    };
    if subject.common_name.is_none() {
        subject.common_name = defaults.subject.common_name.clone();
    }
    let requested_sans = attributes
        .extensions
        .and_then(|e| e.san)
        .map(|san| sans_from(&san))
        .transpose()?;
    let sans = match requested_sans {
        Some(sans) if !sans.is_empty() => sans,
        _ => defaults.sans,
    };
    if let Some(common_name) = &subject.common_name
        && (common_name.is_empty() || common_name.chars().count() > 64)
    {
        return Err(ApiError::invalid_input("common_name must be 1 to 64 characters"));
    }
    if profile.common_name_required && subject.common_name.is_none() {
        return Err(ApiError::invalid_input(format!(
            "common_name is required by profile {}",
            profile.id
        )));
    }
    if subject.common_name.is_none() && sans.is_empty() {
        return Err(ApiError::invalid_input(
            "a common_name or at least one subject alternative name is required",
        ));
    }
    let requested_validity = request.validity.as_ref().map(validity_from).transpose()?;
    let validity = match requested_validity {
        Some(validity) if profile.allow_validity_override => validity,
        _ => defaults.validity,
    };
    Ok(LeafOrder {
        spki_sha256: csr.spki_sha256,
        public_key: csr.public_key,
        key: csr.key,
        subject,
        sans,
        validity,
    })
}

fn subject_from(requested: &RequestedSubject) -> Result<SubjectFields, ApiError> {
    let units = match requested
        .organization_units
        .clone()
        .or(requested.organization_unit.clone())
    {
        Some(OneOrMany::One(unit)) => vec![unit],
        Some(OneOrMany::Many(units)) => units,
        None => Vec::new(),
    };
    if let Some(country) = &requested.country
        && !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(ApiError::invalid_input("country must be a two-letter ISO code"));
    }
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
    Ok(SubjectFields {
        common_name: non_empty(&requested.common_name),
        organization_name: non_empty(&requested.organization_name),
        organization_units: units.into_iter().filter(|u| !u.trim().is_empty()).collect(),
        locality: non_empty(&requested.locality),
        state: non_empty(&requested.state),
        country: requested.country.as_ref().map(|c| c.to_ascii_uppercase()),
    })
}

fn sans_from(requested: &RequestedSans) -> Result<SubjectAltNames, ApiError> {
    let dns_names = requested
        .dns_names
        .iter()
        .map(|name| {
            normalize_dns_name(name)
                .ok_or_else(|| ApiError::invalid_input(format!("invalid DNS name {name:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ip_addresses = requested
        .ip_addresses
        .iter()
        .map(|ip| {
            ip.trim()
                .parse::<IpAddr>()
                .map_err(|_| ApiError::invalid_input(format!("invalid IP address {ip:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ia5 = |values: &[String], what: &str, must_contain: Option<char>| {
        values
            .iter()
            .map(|value| {
                let ok = !value.is_empty()
                    && value.is_ascii()
                    && !value.contains(char::is_whitespace)
                    && must_contain.is_none_or(|c| value.contains(c));
                if ok {
                    Ok(value.clone())
                } else {
                    Err(ApiError::invalid_input(format!("invalid {what} {value:?}")))
                }
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(SubjectAltNames {
        dns_names,
        ip_addresses,
        emails: ia5(&requested.emails, "email", Some('@'))?,
        uris: ia5(&requested.uris, "URI", Some(':'))?,
    })
}

fn validity_from(requested: &RequestedValidity) -> Result<Duration, ApiError> {
    let day_count = match requested.unit.to_ascii_lowercase().as_str() {
        "days" | "day" => requested.duration,
        // Calendar-free approximations: a sim certificate needs a lifetime, not a calendar.
        "months" | "month" => requested.duration.saturating_mul(30),
        "years" | "year" => requested.duration.saturating_mul(365),
        other => {
            return Err(ApiError::invalid_input(format!(
                "validity unit {other:?} is not days, months or years"
            )));
        }
    };
    let max_days = MAX_LEAF_LIFETIME.whole_days() as u64;
    if day_count == 0 || day_count > max_days {
        return Err(ApiError::invalid_input(format!(
            "validity must be between 1 and {max_days} days"
        )));
    }
    Ok(Duration::from_secs(day_count * 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_parse_to_the_same_request() {
        let top = br#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C",
                       "attributes":{"subject":{"common_name":"cn"}}}"#;
        let nested = br#"{"profile":{"id":"p","seat":{"id":"s"},"csr":"C",
                          "attributes":{"subject":{"common_name":"cn"}}}}"#;
        for body in [&top[..], &nested[..]] {
            let request = parse_enrollment(body).expect("parses");
            assert_eq!(request.profile_id.as_deref(), Some("p"));
            assert_eq!(request.seat_id.as_deref(), Some("s"));
            assert_eq!(request.csr.as_deref(), Some("C"));
            let subject = request.attributes.and_then(|a| a.subject).expect("subject");
            assert_eq!(subject.common_name.as_deref(), Some("cn"));
        }
    }

    #[test]
    fn bad_bodies_are_invalid_input() {
        for body in [
            &b"not json"[..],
            b"[1,2]",
            br#"{"csr": 5}"#,
            br#"{"validity":{"unit":"days","duration":-1}}"#,
        ] {
            let error = parse_enrollment(body).expect_err("must fail");
            assert_eq!(error.code, "invalid_input_field");
        }
    }

    #[test]
    fn validity_units() {
        let days = |unit: &str, duration| {
            validity_from(&RequestedValidity {
                unit: unit.into(),
                duration,
            })
        };
        assert_eq!(days("days", 10).expect("days"), Duration::from_secs(10 * 86_400));
        assert_eq!(
            days("Months", 2).expect("months"),
            Duration::from_secs(60 * 86_400)
        );
        assert_eq!(
            days("years", 1).expect("years"),
            Duration::from_secs(365 * 86_400)
        );
        assert!(days("weeks", 1).is_err());
        assert!(days("days", 0).is_err());
        assert!(days("years", 11).is_err());
    }
}
