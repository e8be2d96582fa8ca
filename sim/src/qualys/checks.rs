//! Field checks of an enrollment request: unknown fields, the intermediate CA, exactly one
//! validity, and renewals.

use axum::http::StatusCode;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::{error, invalid, missing, times};
use crate::errors::ApiError;
use crate::state::{AppState, lock};

/// The longest public TLS leaf (CA/B Forum: 398 days) the sim signs, whatever was asked.
const MAX_DAYS: i64 = 397;

pub fn known_fields(prefix: &str, object: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(invalid(
            &format!("{prefix}{unknown}"),
            "not a parameter of this request",
        )),
        None => Ok(()),
    }
}

pub fn object<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(invalid(name, "not an object")),
    }
}

pub fn string_list(body: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .ok_or_else(|| invalid(name, "not an array of strings"))
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(invalid(name, "not an array")),
    }
}

/// At least one of certhash, commonName, serialNumber, and each given one names the sim's
/// issuing CA (the only CA "configured with a CA API key").
pub fn check_intermediate(state: &AppState, value: Option<&Value>) -> Result<(), ApiError> {
    let Some(Value::Object(ca)) = value else {
        return Err(missing("intermediateCA"));
    };
    known_fields("intermediateCA.", ca, &["certhash", "commonName", "serialNumber"])?;
    let given: Vec<(&str, &str)> = ["certhash", "commonName", "serialNumber"]
        .into_iter()
        .filter_map(|k| ca.get(k).and_then(Value::as_str).map(|v| (k, v)))
        .collect();
    if given.is_empty() {
        return Err(missing(
            "intermediateCA.certhash, intermediateCA.commonName or intermediateCA.serialNumber",
        ));
    }
    let ours = super::issue::intermediate_identity(state);
    let plain = |s: &str| s.replace(':', "").to_ascii_lowercase();
    let matches = given.iter().all(|(k, v)| match *k {
        "certhash" => plain(v) == ours.certhash,
        "commonName" => *v == ours.name,
        _ => plain(v).trim_start_matches('0') == ours.serial.trim_start_matches('0'),
    });
    if matches {
        Ok(())
    } else {
        Err(error(
            StatusCode::BAD_REQUEST,
            "140004",
            "Enrollment is not supported for CA",
        ))
    }
}

/// Exactly one of `customExpirationDate`, `validityYears`, `validityDays` (the view page:
/// "Make sure only one value is provided in a request").
pub fn check_validity(
    validity: &Map<String, Value>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, ApiError> {
    known_fields(
        "validity.",
        validity,
        &["customExpirationDate", "validityYears", "validityDays"],
    )?;
    let given: Vec<(&String, &Value)> = validity.iter().filter(|(_, v)| !v.is_null()).collect();
    let [(name, value)] = given.as_slice() else {
        if given.is_empty() {
            return Err(missing(
                "validity.customExpirationDate, validity.validityYears or validity.validityDays",
            ));
        }
        return Err(error(
            StatusCode::BAD_REQUEST,
            "1904",
            "Please specify only one of these parameters: customExpirationDate, validityYears, validityDays",
        ));
    };
    let cap = now + Duration::days(MAX_DAYS);
    let field = format!("validity.{name}");
    let at = match name.as_str() {
        "validityYears" => match value.as_u64() {
            Some(years @ 1..=3) => now + Duration::days(365 * years as i64),
            _ => return Err(invalid(&field, "1 to 3 years")),
        },
        "validityDays" => match value.as_u64() {
            Some(days @ 1..=397) => now + Duration::days(days as i64),
            _ => return Err(invalid(&field, "1 to 397 days")),
        },
        _ => {
            let text = value.as_str().ok_or_else(|| invalid(&field, "not a date"))?;
            let at = times::parse_expiration(text)
                .ok_or_else(|| invalid(&field, format!("{text} is not a date")))?;
            if at <= now {
                return Err(invalid(&field, "in the past"));
            }
            at
        }
    };
    Ok(at.min(cap))
}

pub fn check_renewal(state: &AppState, body: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let Some(renewal) = object(body, "renewal")? else {
        return Ok(None);
    };
    known_fields(
        "renewal.",
        renewal,
        &["digicertPreviousOrderId", "renewalOfCertificate"],
    )?;
    renewal
        .get("digicertPreviousOrderId")
        .and_then(Value::as_u64)
        .filter(|id| *id > 0)
        .ok_or_else(|| missing("renewal.digicertPreviousOrderId"))?;
    let certhash = renewal
        .get("renewalOfCertificate")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("renewal.renewalOfCertificate"))?;
    let book = lock(&state.qualys);
    if book.issued_with_certhash(certhash).is_none() || book.in_renewal(certhash) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "140006",
            "Invalid renewal certificate",
        ));
    }
    Ok(Some(Value::Object(renewal.clone())))
}
