//! The request bodies of submit, renew, pickup and revoke, read strictly as the published spec
//! shapes them (see `fields`): the tutorial's nested `profile.{csr,seat,attributes}` is refused.

use std::time::Duration;

use crate::ca::MAX_LEAF_LIFETIME;
use crate::errors::ApiError;
use crate::tlm::attributes::{RequestedAttributes, parse_attributes};
use crate::tlm::fields::{Fields, body_object};

/// The spec's `delivery_format` enum, exactly as written.
const DELIVERY_FORMATS: [&str; 2] = ["x509", "PKCS7"];

pub const REVOCATION_REASONS: [&str; 10] = [
    "unspecified",
    "key_compromise",
    "ca_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "certificate_hold",
    "remove_from_crl",
    "privilege_withdrawn",
    "aa_compromise",
];

/// A checked `POST /mpki/api/v1/certificate` body.
#[derive(Debug)]
pub struct SubmitBody {
    pub profile_id: String,
    pub seat_id: String,
    pub csr: String,
    pub validity: Option<Duration>,
    pub include_ca_chain: bool,
    pub attributes: RequestedAttributes,
}

/// A checked `POST /certificate/{serial}/renew` body.
#[derive(Debug)]
pub struct RenewBody {
    pub csr: String,
    pub validity: Option<Duration>,
    pub include_ca_chain: bool,
}

pub fn parse_submit(body: &[u8]) -> Result<SubmitBody, ApiError> {
    let map = body_object(body)?;
    let root = Fields::root(&map);
    root.only(&[
        "profile",
        "seat",
        "csr",
        "validity",
        "delivery_format",
        "include_ca_chain",
        "attributes",
        "tags",
    ])?;
    let profile = root.required_object("profile")?;
    profile.only(&["id"])?;
    let seat = root.required_object("seat")?;
    seat.only(&["seat_id"])?;
    let attributes = match root.object("attributes")? {
        Some(attributes) => parse_attributes(&attributes)?,
        None => RequestedAttributes::default(),
    };
    delivery_format(&root)?;
    // Checked, then kept nowhere: no source shows TLM returning or searching tags.
    root.strings("tags")?;
    Ok(SubmitBody {
        profile_id: profile.required_string("id")?.to_string(),
        seat_id: seat.required_string("seat_id")?.to_string(),
        csr: root.required_string("csr")?.to_string(),
        validity: validity(&root)?,
        include_ca_chain: root.bool("include_ca_chain")?.unwrap_or(false),
        attributes,
    })
}

pub fn parse_renew(body: &[u8]) -> Result<RenewBody, ApiError> {
    let map = body_object(body)?;
    let root = Fields::root(&map);
    root.only(&["csr", "validity", "delivery_format", "include_ca_chain"])?;
    delivery_format(&root)?;
    Ok(RenewBody {
        csr: root.required_string("csr")?.to_string(),
        validity: validity(&root)?,
        include_ca_chain: root.bool("include_ca_chain")?.unwrap_or(false),
    })
}

/// `{"profile":{"id"}}`: the profile the request was made for.
pub fn parse_pickup(body: &[u8]) -> Result<String, ApiError> {
    let map = body_object(body)?;
    let root = Fields::root(&map);
    root.only(&["profile"])?;
    let profile = root.required_object("profile")?;
    profile.only(&["id"])?;
    Ok(profile.required_string("id")?.to_string())
}

/// `{"revocation_reason": R}` with R from the spec's enum.
pub fn parse_revoke(body: &[u8]) -> Result<&'static str, ApiError> {
    let map = body_object(body)?;
    let root = Fields::root(&map);
    root.only(&["revocation_reason"])?;
    let reason = root.required_string("revocation_reason")?;
    REVOCATION_REASONS
        .iter()
        .find(|known| **known == reason)
        .copied()
        .ok_or_else(|| {
            ApiError::invalid_field(
                "revocation_reason",
                format!(
                    "revocation_reason must be one of {}",
                    REVOCATION_REASONS.join(", ")
                ),
            )
        })
}

/// Checked for its value; the profile decides the format, as DigiCert's Terraform provider
/// assumes when it passes the profile's format through.
fn delivery_format(root: &Fields<'_>) -> Result<(), ApiError> {
    match root.string("delivery_format")? {
        Some(format) if !DELIVERY_FORMATS.contains(&format) => Err(ApiError::invalid_field(
            "delivery_format",
            "delivery_format must be \"x509\" or \"PKCS7\"",
        )),
        _ => Ok(()),
    }
}

/// The spec's `Validity{unit, duration}` as a lifetime (months are 30 days, years 365).
fn validity(root: &Fields<'_>) -> Result<Option<Duration>, ApiError> {
    let Some(validity) = root.object("validity")? else {
        return Ok(None);
    };
    validity.only(&["unit", "duration"])?;
    let unit = validity.required_string("unit")?;
    let duration = validity
        .positive_integer("duration")?
        .ok_or_else(|| ApiError::invalid_field("validity.duration", "validity.duration is required"))?;
    let unit_seconds: u64 = match unit {
        "minutes" => 60,
        "hours" => 3_600,
        "days" => 86_400,
        // Calendar-free approximations: a sim certificate needs a lifetime, not a calendar.
        "months" => 30 * 86_400,
        "years" => 365 * 86_400,
        _ => {
            return Err(ApiError::invalid_field(
                "validity.unit",
                "validity.unit must be one of years, months, days, hours, minutes",
            ));
        }
    };
    let seconds = duration.saturating_mul(unit_seconds);
    let max = MAX_LEAF_LIFETIME.whole_seconds().unsigned_abs();
    if seconds > max {
        return Err(ApiError::invalid_field(
            "validity",
            format!("validity must be at most {} days", max / 86_400),
        ));
    }
    Ok(Some(Duration::from_secs(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(error: ApiError) -> (String, Option<String>) {
        (error.code.to_string(), error.field)
    }

    const MINIMAL: &str = r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C"}"#;

    #[test]
    fn the_top_level_shape_parses() {
        let body = parse_submit(MINIMAL.as_bytes()).expect("minimal body");
        assert_eq!(
            (body.profile_id.as_str(), body.seat_id.as_str(), body.csr.as_str()),
            ("p", "s", "C")
        );
        assert!(!body.include_ca_chain && body.validity.is_none());
        let full = br#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C",
            "validity":{"unit":"hours","duration":2},"delivery_format":"PKCS7","include_ca_chain":true,
            "tags":["a"],"attributes":{"subject":{"common_name":"cn"}}}"#;
        let body = parse_submit(full).expect("full body");
        assert_eq!(body.validity, Some(Duration::from_secs(7_200)));
        assert!(body.include_ca_chain);
    }

    #[test]
    fn the_tutorial_shape_is_refused() {
        let nested = br#"{"profile":{"id":"p","seat":{"id":"s"},"csr":"C",
                          "attributes":{"subject":{"common_name":"cn"}}}}"#;
        let error = parse_submit(nested).expect_err("nested shape");
        assert_eq!(error.code, "invalid_input_field");
        assert!(error.field.as_deref().is_some_and(|f| f.starts_with("profile.")));
    }

    #[test]
    fn bad_submit_bodies() {
        let invalid = |body: &str| field(parse_submit(body.as_bytes()).expect_err(body));
        assert_eq!(invalid("not json").0, "invalid_request");
        assert_eq!(invalid("[1,2]").0, "invalid_request");
        let cases = [
            (r#"{"seat":{"seat_id":"s"},"csr":"C"}"#, "profile"),
            (
                r#"{"profile":{"id":""},"seat":{"seat_id":"s"},"csr":"C"}"#,
                "profile.id",
            ),
            (r#"{"profile":{"id":"p"},"csr":"C"}"#, "seat"),
            (r#"{"profile":{"id":"p"},"seat":{"id":"s"},"csr":"C"}"#, "seat.id"),
            (r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":5}"#, "csr"),
            (r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"}}"#, "csr"),
            (
                r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C","extra":1}"#,
                "extra",
            ),
            (
                r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C","include_ca_chain":"true"}"#,
                "include_ca_chain",
            ),
            (
                r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C","delivery_format":"pkcs7"}"#,
                "delivery_format",
            ),
            (
                r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C","validity":{"unit":"weeks","duration":1}}"#,
                "validity.unit",
            ),
            (
                r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C","validity":{"unit":"days","duration":-1}}"#,
                "validity.duration",
            ),
            (
                r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C","validity":{"unit":"days","duration":"30"}}"#,
                "validity.duration",
            ),
            (
                r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C","validity":{"unit":"years","duration":11}}"#,
                "validity",
            ),
            (
                r#"{"profile":{"id":"p"},"seat":{"seat_id":"s"},"csr":"C","tags":"a"}"#,
                "tags",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                invalid(body),
                ("invalid_input_field".to_string(), Some(expected.to_string())),
                "{body}"
            );
        }
    }

    #[test]
    fn renew_pickup_and_revoke_bodies() {
        assert!(parse_renew(br#"{"csr":"C","include_ca_chain":true}"#).is_ok());
        let error = parse_renew(br#"{"csr":"C","attributes":{}}"#).expect_err("attributes");
        assert_eq!(error.field.as_deref(), Some("attributes"));
        assert_eq!(parse_pickup(br#"{"profile":{"id":"p"}}"#).expect("pickup"), "p");
        assert_eq!(parse_pickup(b"").expect_err("empty").code, "invalid_request");
        assert_eq!(
            parse_pickup(br#"{"profile":{}}"#)
                .expect_err("no id")
                .field
                .as_deref(),
            Some("profile.id")
        );
        assert_eq!(
            parse_revoke(br#"{"revocation_reason":"certificate_hold"}"#).expect("hold"),
            "certificate_hold"
        );
        assert_eq!(
            parse_revoke(b"{}").expect_err("missing").field.as_deref(),
            Some("revocation_reason")
        );
        assert!(parse_revoke(br#"{"revocation_reason":"because"}"#).is_err());
        assert_eq!(parse_revoke(b"").expect_err("no body").code, "invalid_request");
    }
}
