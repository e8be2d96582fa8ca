//! The TLM request for a Certificate.

use crate::api::{CertificateSpec, TlmIssuerConfig, ValidityUnit};
use crate::clients::tlm_types::{
    Attributes, Extensions, IdRef, RenewRequest, SanAttributes, SeatRef, SubjectAttributes, SubmitRequest,
    ValidityWire,
};

use super::spec::request_common_name;

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
    issuer.validity.as_ref().map(|v| ValidityWire {
        unit: match v.unit {
            ValidityUnit::Days => "days",
            ValidityUnit::Months => "months",
            ValidityUnit::Years => "years",
        }
        .into(),
        duration: v.duration,
    })
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
            common_name: request_common_name(spec),
            organization_name: first(&subject.organizations),
            organization_units: first(&subject.organizational_units),
            country: first(&subject.countries),
            state: first(&subject.provinces),
            locality: first(&subject.localities),
            street_address: first(&subject.street_addresses),
            postal_code: first(&subject.postal_codes),
        },
        extensions: (!san.is_empty()).then_some(Extensions { san }),
    }
}

/// `POST /mpki/api/v1/certificate` body.
pub fn submit_request(spec: &CertificateSpec, issuer: &TlmIssuerConfig, csr: String) -> SubmitRequest {
    let seat = spec
        .seat_id
        .clone()
        .or_else(|| issuer.seat_id.clone())
        .or_else(|| request_common_name(spec));
    SubmitRequest {
        profile: IdRef {
            id: issuer.profile_id.clone(),
        },
        seat: seat.map(|seat_id| SeatRef { seat_id }),
        csr,
        validity: validity(spec, issuer),
        delivery_format: "x509".into(),
        include_ca_chain: true,
        attributes: attributes(spec),
    }
}

/// `POST .../{serial}/renew` body.
pub fn renew_request(spec: &CertificateSpec, issuer: &TlmIssuerConfig, csr: String) -> RenewRequest {
    RenewRequest {
        csr,
        validity: validity(spec, issuer),
        attributes: Some(attributes(spec)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SecretKeySelector;
    use crate::certificate::spec::tests::spec;

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
        let req = submit_request(&s, &issuer(), "CSR".into());
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
        assert_eq!(req.seat.unwrap().seat_id, "a.example.com");
        assert_eq!(req.attributes.extensions.unwrap().san.dns_names.len(), 2);
        assert_eq!(req.profile.id, "prof");
    }
}
