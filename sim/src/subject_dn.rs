//! Subject distinguished names with every value a request gave. rcgen keeps one value per
//! attribute type, so leaves are signed by rcgen first and then get this full subject put in
//! and are signed again with the same issuer key.

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, Ia5StringRef, PrintableStringRef, SetOfVec, Utf8StringRef};
use der::{Any, Decode, Encode};
use rcgen::{DistinguishedName, DnType, SigningKey};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use crate::names::SubjectFields;

const C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const ST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
const L: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
const STREET: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.9");
const POSTAL_CODE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.17");
const O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
const DESCRIPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.13");
const DC: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.25");
const UNIQUE_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.44");
const EMAIL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");
const UNSTRUCTURED_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.2");
const UNSTRUCTURED_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.8");

/// The ASN.1 string type an attribute must use (RFC 5280 / RFC 4519 / PKCS #9).
#[derive(Clone, Copy)]
enum Text {
    Utf8,
    Printable,
    Ia5,
}

/// The single-valued approximation rcgen can express. Only its emptiness matters for the final
/// certificate (rcgen marks the SAN extension critical when the subject is empty).
pub fn rcgen_dn(subject: &SubjectFields) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(country) = &subject.country {
        dn.push(DnType::CountryName, country.as_str());
    }
    if let Some(organization) = &subject.organization_name {
        dn.push(DnType::OrganizationName, organization.as_str());
    }
    if let Some(common_name) = &subject.common_name {
        dn.push(DnType::CommonName, common_name.as_str());
    }
    if dn.iter().next().is_none() && !subject_name_is_empty(subject) {
        // Some other attribute is present: keep rcgen's view non-empty too.
        dn.push(DnType::CommonName, "placeholder");
    }
    dn
}

fn subject_name_is_empty(subject: &SubjectFields) -> bool {
    attributes(subject).is_empty()
}

fn one(oid: ObjectIdentifier, text: Text, value: &Option<String>) -> Option<(ObjectIdentifier, Text, &str)> {
    value.as_deref().map(|v| (oid, text, v))
}

/// Every (type, string type, value) of the subject, root first.
fn attributes(subject: &SubjectFields) -> Vec<(ObjectIdentifier, Text, &str)> {
    let mut out = Vec::new();
    let dc = subject
        .domain_component
        .iter()
        .map(|v| (DC, Text::Ia5, v.as_str()));
    out.extend(dc);
    out.extend(one(C, Text::Printable, &subject.country));
    out.extend(one(ST, Text::Utf8, &subject.state));
    out.extend(one(L, Text::Utf8, &subject.locality));
    out.extend(
        subject
            .street_address
            .iter()
            .map(|v| (STREET, Text::Utf8, v.as_str())),
    );
    out.extend(one(POSTAL_CODE, Text::Utf8, &subject.postal_code));
    out.extend(one(O, Text::Utf8, &subject.organization_name));
    out.extend(
        subject
            .organization_units
            .iter()
            .map(|v| (OU, Text::Utf8, v.as_str())),
    );
    out.extend(one(CN, Text::Utf8, &subject.common_name));
    out.extend(one(SERIAL_NUMBER, Text::Printable, &subject.serial_number));
    out.extend(one(EMAIL, Text::Ia5, &subject.email));
    out.extend(one(UNIQUE_IDENTIFIER, Text::Utf8, &subject.unique_identifier));
    out.extend(
        subject
            .description
            .iter()
            .map(|v| (DESCRIPTION, Text::Utf8, v.as_str())),
    );
    let unstructured_name = subject.unstructured_name.iter();
    out.extend(unstructured_name.map(|v| (UNSTRUCTURED_NAME, Text::Utf8, v.as_str())));
    let unstructured_address = subject.unstructured_address.iter();
    out.extend(unstructured_address.map(|v| (UNSTRUCTURED_ADDRESS, Text::Utf8, v.as_str())));
    out
}

/// The subject as a DER `Name`: one single-valued RDN per value.
pub fn subject_name(subject: &SubjectFields) -> anyhow::Result<Name> {
    let mut rdns = Vec::new();
    for (oid, text, value) in attributes(subject) {
        let value = match text {
            Text::Utf8 => Any::encode_from(&Utf8StringRef::new(value)?)?,
            Text::Printable => Any::encode_from(&PrintableStringRef::new(value)?)?,
            Text::Ia5 => Any::encode_from(&Ia5StringRef::new(value)?)?,
        };
        let atv = AttributeTypeAndValue { oid, value };
        rdns.push(RelativeDistinguishedName(SetOfVec::try_from(vec![atv])?));
    }
    Ok(RdnSequence(rdns))
}

/// Puts the full subject into a certificate `signer` issued and signs it again with that key.
pub fn resign_with_subject(
    cert_der: &[u8],
    subject: &SubjectFields,
    signer: &impl SigningKey,
) -> anyhow::Result<Vec<u8>> {
    let mut cert = x509_cert::Certificate::from_der(cert_der)?;
    cert.tbs_certificate.subject = subject_name(subject)?;
    let signature = signer.sign(&cert.tbs_certificate.to_der()?)?;
    cert.signature = BitString::from_bytes(&signature)?;
    Ok(cert.to_der()?)
}

/// Whether `value` can be encoded as a PrintableString (country, serialNumber).
pub fn is_printable(value: &str) -> bool {
    PrintableStringRef::new(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_valued_fields_become_one_rdn_each() {
        let subject = SubjectFields {
            common_name: Some("a.example.com".into()),
            organization_units: vec!["Ops".into(), "Web".into()],
            street_address: vec!["1 Main St".into(), "Floor 2".into()],
            domain_component: vec!["example".into(), "com".into()],
            country: Some("US".into()),
            ..SubjectFields::default()
        };
        let name = subject_name(&subject).expect("name");
        assert_eq!(name.0.len(), 8);
        let der = name.to_der().expect("der");
        use x509_parser::prelude::{FromDer, X509Error, X509Name};
        let (_, parsed) = <X509Name as FromDer<X509Error>>::from_der(&der).expect("parses");
        assert_eq!(parsed.iter_organizational_unit().count(), 2);
        assert_eq!(
            parsed.to_string(),
            "DC=example, DC=com, C=US, streetAddress=1 Main St, streetAddress=Floor 2, OU=Ops, OU=Web, CN=a.example.com"
        );
        assert!(subject_name_is_empty(&SubjectFields::default()));
        assert_eq!(rcgen_dn(&SubjectFields::default()).iter().count(), 0);
    }

    #[test]
    fn printable_strings_are_checked() {
        assert!(is_printable("US"));
        assert!(!is_printable("Ü"));
        assert!(
            subject_name(&SubjectFields {
                country: Some("Ü1".into()),
                ..SubjectFields::default()
            })
            .is_err()
        );
    }
}
