//! The TLM request bodies for a Certificate: submit and renew.

use crate::api::{CertificateSpec, TlmIssuerConfig, Validity, ValidityUnit};
use crate::clients::tlm_types::{
    Attributes, Extensions, IdRef, RenewRequest, SanAttributes, SeatRef, SubjectAttributes, SubmitRequest,
    ValidityWire,
};

/// Validity to ask for: the Certificate's `duration` in whole days (rounded up), else the
/// Issuer's `validity`, else none (the profile decides).
pub fn validity(spec: &CertificateSpec, issuer: &TlmIssuerConfig) -> Option<ValidityWire> {
    if let Some(duration) = spec.duration {
        let secs = std::time::Duration::from(duration).as_secs();
        let days = secs.div_ceil(86_400).max(1);
        return Some(ValidityWire {
            unit: "days".into(),
            duration: u32::try_from(days).unwrap_or(u32::MAX),
        });
    }
    issuer.validity.as_ref().map(issuer_validity_wire)
}

/// An Issuer's `validity` as TLM's wire shape.
pub fn issuer_validity_wire(v: &Validity) -> ValidityWire {
    ValidityWire {
        unit: match v.unit {
            ValidityUnit::Days => "days",
            ValidityUnit::Months => "months",
            ValidityUnit::Years => "years",
        }
        .into(),
        duration: v.duration,
    }
}

/// The validity actually sent: none when the profile does not let the API override its own
/// (`override_cert_validity_via_api: false`), where sending one may be refused.
pub fn validity_to_send(
    spec: &CertificateSpec,
    issuer: &TlmIssuerConfig,
    profile_allows_override: bool,
) -> Option<ValidityWire> {
    validity(spec, issuer).filter(|_| profile_allows_override)
}

fn attributes(spec: &CertificateSpec) -> Attributes {
    let subject = spec.subject.clone().unwrap_or_default();
    let first = |v: &Vec<String>| v.first().cloned();
    let san = SanAttributes {
        dns_names: spec.dns_names.clone().unwrap_or_default(),
        ip_addresses: spec.ip_addresses.clone().unwrap_or_default(),
        emails: spec.email_addresses.clone().unwrap_or_default(),
        uris: spec.uris.clone().unwrap_or_default(),
    };
    Attributes {
        subject: SubjectAttributes {
            common_name: spec.request_common_name(),
            organization_name: first(&subject.organizations),
            // The spec types these as arrays: every value is sent.
            organization_units: subject.organizational_units.clone(),
            country: first(&subject.countries),
            state: first(&subject.provinces),
            locality: first(&subject.localities),
            street_address: subject.street_addresses.clone(),
            postal_code: first(&subject.postal_codes),
            domain_component: Vec::new(),
            serial_number: subject.serial_number.clone(),
        },
        extensions: (!san.is_empty()).then_some(Extensions { san }),
    }
}

/// The seat that owns the certificate: the Certificate's, the Issuer's, else the request's
/// common name (what DigiCert's integration scripts use).
pub fn seat_id(spec: &CertificateSpec, issuer: &TlmIssuerConfig) -> String {
    spec.seat_id
        .clone()
        .or_else(|| issuer.seat_id.clone())
        .or_else(|| spec.request_common_name())
        .unwrap_or_default()
}

/// `POST /mpki/api/v1/certificate` body.
pub fn submit_request(
    spec: &CertificateSpec,
    issuer: &TlmIssuerConfig,
    profile_allows_override: bool,
    csr: String,
) -> SubmitRequest {
    SubmitRequest {
        profile: IdRef {
            id: issuer.profile_id.clone(),
        },
        seat: SeatRef {
            seat_id: seat_id(spec, issuer),
        },
        csr,
        validity: validity_to_send(spec, issuer, profile_allows_override),
        delivery_format: "x509".into(),
        include_ca_chain: true,
        attributes: attributes(spec),
    }
}

/// `POST .../{serial}/renew` body: the spec's `csr`, `validity`, `delivery_format`,
/// `include_ca_chain` (a renewal keeps the certificate's subject and names).
pub fn renew_request(
    spec: &CertificateSpec,
    issuer: &TlmIssuerConfig,
    profile_allows_override: bool,
    csr: String,
) -> RenewRequest {
    RenewRequest {
        csr,
        validity: validity_to_send(spec, issuer, profile_allows_override),
        delivery_format: "x509".into(),
        include_ca_chain: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SecretKeySelector;

    fn spec(dns: &[&str]) -> CertificateSpec {
        CertificateSpec::for_tests("tlm", dns)
    }

    fn issuer() -> TlmIssuerConfig {
        TlmIssuerConfig {
            url: "https://tlm".into(),
            api_key_secret_ref: SecretKeySelector {
                name: "k".into(),
                key: "k".into(),
            },
            profile_id: "prof".into(),
            seat_id: None,
            ca_bundle: None,
            validity: None,
        }
    }

    #[test]
    fn duration_rounds_up_to_days_and_cn_defaults_to_first_san() {
        let mut s = spec(&["a.example.com", "b.example.com"]);
        s.duration = Some(std::time::Duration::from_secs(36 * 3600).into());
        let req = submit_request(&s, &issuer(), true, "CSR".into());
        assert_eq!(
            req.validity,
            Some(ValidityWire {
                unit: "days".into(),
                duration: 2
            })
        );
        assert_eq!(
            req.attributes.subject.common_name.as_deref(),
            Some("a.example.com")
        );
        assert_eq!(req.seat.seat_id, "a.example.com");
        assert_eq!(req.attributes.extensions.unwrap().san.dns_names.len(), 2);
        assert_eq!(req.profile.id, "prof");
        let kept = submit_request(&s, &issuer(), false, "CSR".into());
        assert_eq!(
            kept.validity, None,
            "a profile without API override gets no validity"
        );
        let note = |validity_override, profile_validity: Option<&str>| {
            super::super::spec::TlmSpec {
                config: issuer(),
                validity_override,
                profile_validity: profile_validity.map(str::to_string),
            }
            .validity_note(&s)
        };
        let note_kept = note(false, Some("365 days")).unwrap();
        assert!(note_kept.contains("365 days"), "{note_kept}");
        assert_eq!(note(true, None), None);
        let renew = renew_request(&s, &issuer(), true, "CSR".into());
        assert_eq!(
            (renew.delivery_format.as_str(), renew.include_ca_chain),
            ("x509", true)
        );
    }

    #[test]
    fn every_organizational_unit_and_street_line_is_sent() {
        let mut s = spec(&["a.example.com"]);
        s.subject = Some(Box::new(crate::api::Subject {
            organizational_units: vec!["Ops".into(), "Web".into()],
            street_addresses: vec!["1 Main St".into(), "Floor 2".into()],
            organizations: vec!["Example".into()],
            ..Default::default()
        }));
        let req = submit_request(&s, &issuer(), true, "CSR".into());
        let subject = serde_json::to_value(&req.attributes.subject).unwrap();
        assert_eq!(subject["organization_units"], serde_json::json!(["Ops", "Web"]));
        assert_eq!(
            subject["street_address"],
            serde_json::json!(["1 Main St", "Floor 2"])
        );
        assert_eq!(subject["organization_name"], serde_json::json!("Example"));
    }
}
