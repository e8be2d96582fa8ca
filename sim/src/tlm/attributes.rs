//! `attributes` of a submit body: `subject`, `extensions.san` and `custom_values`, read with
//! the spec's JSON types (several subject fields are arrays), then checked value by value.

use std::net::IpAddr;

use serde_json::Value;

use crate::errors::ApiError;
use crate::names::{SubjectAltNames, SubjectFields, normalize_dns_name};
use crate::subject_dn::is_printable;
use crate::tlm::fields::Fields;

const SUBJECT_STRINGS: [&str; 9] = [
    "common_name",
    "organization_name",
    "country",
    "state",
    "locality",
    "postal_code",
    "email",
    "serial_number",
    "unique_identifier",
];
const SUBJECT_ARRAYS: [&str; 6] = [
    "organization_units",
    "street_address",
    "domain_component",
    "description",
    "unstructured_name",
    "unstructured_address",
];
const SAN_ARRAYS: [&str; 6] = [
    "dns_names",
    "ip_addresses",
    "emails",
    "uris",
    "user_principal_names",
    "registered_ids",
];

/// SANs as sent, before any value is checked.
#[derive(Clone, Debug, Default)]
pub struct RequestedSans {
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
    pub user_principal_names: Vec<String>,
    pub registered_ids: Vec<String>,
    pub other_names: Option<Value>,
}

#[derive(Clone, Debug, Default)]
pub struct RequestedAttributes {
    /// Values as sent (not yet checked).
    pub subject: Option<SubjectFields>,
    pub sans: Option<RequestedSans>,
}

pub fn parse_attributes(attributes: &Fields<'_>) -> Result<RequestedAttributes, ApiError> {
    attributes.only(&["subject", "extensions", "custom_values"])?;
    let subject = attributes
        .object("subject")?
        .map(|s| parse_subject(&s))
        .transpose()?;
    let sans = match attributes.object("extensions")? {
        Some(extensions) => {
            extensions.only(&["san"])?;
            extensions
                .object("san")?
                .map(|san| parse_sans(&san))
                .transpose()?
        }
        None => None,
    };
    // Checked, then ignored: the sim's profiles define no custom extensions to fill in.
    attributes.string_map("custom_values")?;
    Ok(RequestedAttributes { subject, sans })
}

fn parse_subject(subject: &Fields<'_>) -> Result<SubjectFields, ApiError> {
    let allowed: Vec<&str> = SUBJECT_STRINGS.iter().chain(&SUBJECT_ARRAYS).copied().collect();
    subject.only(&allowed)?;
    let one = |key| subject.string(key).map(|v| v.map(String::from));
    let many = |key| subject.strings(key).map(Option::unwrap_or_default);
    Ok(SubjectFields {
        common_name: one("common_name")?,
        organization_name: one("organization_name")?,
        organization_units: many("organization_units")?,
        street_address: many("street_address")?,
        domain_component: many("domain_component")?,
        locality: one("locality")?,
        state: one("state")?,
        country: one("country")?,
        postal_code: one("postal_code")?,
        email: one("email")?,
        serial_number: one("serial_number")?,
        unique_identifier: one("unique_identifier")?,
        description: many("description")?,
        unstructured_name: many("unstructured_name")?,
        unstructured_address: many("unstructured_address")?,
    })
}

fn parse_sans(san: &Fields<'_>) -> Result<RequestedSans, ApiError> {
    let mut allowed = SAN_ARRAYS.to_vec();
    allowed.push("other_names");
    san.only(&allowed)?;
    let many = |key| san.strings(key).map(Option::unwrap_or_default);
    Ok(RequestedSans {
        dns_names: many("dns_names")?,
        ip_addresses: many("ip_addresses")?,
        emails: many("emails")?,
        uris: many("uris")?,
        user_principal_names: many("user_principal_names")?,
        registered_ids: many("registered_ids")?,
        other_names: san.raw_object("other_names")?,
    })
}

const SUBJECT: &str = "attributes.subject";
const SAN: &str = "attributes.extensions.san";

fn bad(prefix: &str, key: &str, message: String) -> ApiError {
    ApiError::invalid_field(format!("{prefix}.{key}"), message)
}

/// Checks and normalises subject values; blank values count as absent.
pub fn checked_subject(requested: &SubjectFields) -> Result<SubjectFields, ApiError> {
    let one = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
    let many = |values: &Vec<String>| -> Vec<String> {
        values.iter().filter(|v| !v.trim().is_empty()).cloned().collect()
    };
    let subject = SubjectFields {
        common_name: one(&requested.common_name),
        organization_name: one(&requested.organization_name),
        organization_units: many(&requested.organization_units),
        street_address: many(&requested.street_address),
        domain_component: many(&requested.domain_component),
        locality: one(&requested.locality),
        state: one(&requested.state),
        country: one(&requested.country).map(|c| c.to_ascii_uppercase()),
        postal_code: one(&requested.postal_code),
        email: one(&requested.email),
        serial_number: one(&requested.serial_number),
        unique_identifier: one(&requested.unique_identifier),
        description: many(&requested.description),
        unstructured_name: many(&requested.unstructured_name),
        unstructured_address: many(&requested.unstructured_address),
    };
    if let Some(country) = &subject.country
        && !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(bad(
            SUBJECT,
            "country",
            "country must be a two-letter ISO code".into(),
        ));
    }
    if let Some(cn) = &subject.common_name
        && cn.chars().count() > 64
    {
        return Err(bad(
            SUBJECT,
            "common_name",
            "common_name must be 1 to 64 characters".into(),
        ));
    }
    if let Some(serial) = &subject.serial_number
        && !is_printable(serial)
    {
        return Err(bad(
            SUBJECT,
            "serial_number",
            "serial_number must be printable ASCII".into(),
        ));
    }
    if let Some(dc) = subject.domain_component.iter().find(|dc| !dc.is_ascii()) {
        return Err(bad(
            SUBJECT,
            "domain_component",
            format!("invalid domain component {dc:?}"),
        ));
    }
    if let Some(email) = &subject.email
        && !is_ia5_with(email, '@')
    {
        return Err(bad(SUBJECT, "email", format!("invalid email {email:?}")));
    }
    Ok(subject)
}

fn is_ia5_with(value: &str, must_contain: char) -> bool {
    !value.is_empty()
        && value.is_ascii()
        && !value.contains(char::is_whitespace)
        && value.contains(must_contain)
}

/// Checks and normalises SAN values: DNS names lower-cased and in Punycode, IPs parsed.
pub fn checked_sans(requested: &RequestedSans) -> Result<SubjectAltNames, ApiError> {
    let dns_names = requested
        .dns_names
        .iter()
        .map(|name| {
            normalize_dns_name(name)
                .ok_or_else(|| bad(SAN, "dns_names", format!("invalid DNS name {name:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ip_addresses = requested
        .ip_addresses
        .iter()
        .map(|ip| {
            ip.trim()
                .parse::<IpAddr>()
                .map_err(|_| bad(SAN, "ip_addresses", format!("invalid IP address {ip:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ia5 = |values: &[String], key: &str, must_contain: char| {
        values
            .iter()
            .map(|value| {
                if is_ia5_with(value, must_contain) {
                    Ok(value.clone())
                } else {
                    Err(bad(SAN, key, format!("invalid {key} entry {value:?}")))
                }
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let registered_ids = requested
        .registered_ids
        .iter()
        .map(|oid| match const_oid::ObjectIdentifier::new(oid.trim()) {
            Ok(_) => Ok(oid.trim().to_string()),
            Err(_) => Err(bad(SAN, "registered_ids", format!("invalid OID {oid:?}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SubjectAltNames {
        dns_names,
        ip_addresses,
        emails: ia5(&requested.emails, "emails", '@')?,
        uris: ia5(&requested.uris, "uris", ':')?,
        user_principal_names: ia5(&requested.user_principal_names, "user_principal_names", '@')?,
        registered_ids,
        other_names: requested.other_names.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<RequestedAttributes, ApiError> {
        let Value::Object(map) = json!({ "attributes": value }) else {
            panic!("object")
        };
        let root = Fields::root(&map);
        parse_attributes(&root.required_object("attributes")?)
    }

    #[test]
    fn the_spec_types_are_enforced() {
        let field = |value: Value| parse(value).err().and_then(|e| e.field);
        assert_eq!(
            field(json!({"subject": {"organization_units": "Ops"}})).as_deref(),
            Some("attributes.subject.organization_units")
        );
        assert_eq!(
            field(json!({"subject": {"country": ["US"]}})).as_deref(),
            Some("attributes.subject.country")
        );
        assert_eq!(
            field(json!({"subject": {"postal_code": 84123}})).as_deref(),
            Some("attributes.subject.postal_code")
        );
        assert_eq!(
            field(json!({"subject": {"organization_unit": ["Ops"]}})).as_deref(),
            Some("attributes.subject.organization_unit")
        );
        assert_eq!(
            field(json!({"extensions": {"san": {"dns_names": "a.example"}}})).as_deref(),
            Some("attributes.extensions.san.dns_names")
        );
        assert_eq!(
            field(json!({"extensions": {"san": {"email_addresses": []}}})).as_deref(),
            Some("attributes.extensions.san.email_addresses")
        );
        assert_eq!(
            field(json!({"extensions": {"key_usage": {}}})).as_deref(),
            Some("attributes.extensions.key_usage")
        );
        assert_eq!(
            field(json!({"custom_values": {"x": 1}})).as_deref(),
            Some("attributes.custom_values.x")
        );
        let ok = parse(json!({
            "subject": {"common_name": "a", "organization_units": ["x", "y"], "street_address": ["1 Main"]},
            "extensions": {"san": {"dns_names": ["a.example"], "other_names": {"guid": []}}},
            "custom_values": {"placeholder": "value"}
        }))
        .expect("valid");
        assert_eq!(ok.subject.expect("subject").organization_units, vec!["x", "y"]);
    }

    #[test]
    fn values_are_checked_with_their_field() {
        let subject = |s: SubjectFields| checked_subject(&s).err().and_then(|e| e.field);
        assert_eq!(
            subject(SubjectFields {
                country: Some("USA".into()),
                ..SubjectFields::default()
            })
            .as_deref(),
            Some("attributes.subject.country")
        );
        let sans = RequestedSans {
            dns_names: vec!["bad name".into()],
            ..RequestedSans::default()
        };
        assert_eq!(
            checked_sans(&sans).err().and_then(|e| e.field).as_deref(),
            Some("attributes.extensions.san.dns_names")
        );
        let sans = RequestedSans {
            registered_ids: vec!["1.2.3.4".into()],
            user_principal_names: vec!["me@example.com".into()],
            ..RequestedSans::default()
        };
        assert!(checked_sans(&sans).is_ok());
    }
}
