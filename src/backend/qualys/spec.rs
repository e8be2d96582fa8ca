//! What the Certificate lifecycle knows of a Qualys CertView Issuer, and the enrollment request
//! built from a Certificate's spec. No IO.

use crate::api::{CertificateSpec, QualysCertViewIssuerConfig, QualysSignatureHash};
use crate::backend::dns_order::{MAX_CERT_VALIDITY_DAYS, capped_validity_note, names, requested_days};
use crate::clients::error::ServiceError;
use crate::clients::qualys_types::{
    CertificateOrder, EnrollmentProfile, IntermediateCa, SignatureHash, Validity,
};

use super::SERVICE;

#[derive(Clone, Debug)]
pub struct QualysSpec {
    pub config: QualysCertViewIssuerConfig,
}

impl QualysSpec {
    /// Where orders go, as Events name it.
    pub fn ordered_from(&self) -> String {
        format!(
            "Qualys CertView (DigiCert product {}, organization {})",
            self.config.product_name_id, self.config.organization_id
        )
    }

    /// A 403: the user's license or role does not cover enrollment.
    pub fn access_denied(&self, e: &ServiceError) -> String {
        format!(
            "{e}: the Qualys user may not use the CertView enrollment API, or the subscription has no DigiCert API key for organization {} (check the user's license and role in Qualys and the Issuer's organizationId and intermediateCA)",
            self.config.organization_id
        )
    }

    /// A duration longer than DigiCert issues is capped: say so.
    pub fn validity_note(&self, spec: &CertificateSpec) -> Option<String> {
        capped_validity_note(SERVICE, spec)
    }

    /// What every enrollment of this Issuer carries. The Certificate's `duration`, when set,
    /// wins over the Issuer's validity.
    pub fn profile(&self, spec: &CertificateSpec) -> EnrollmentProfile {
        let c = &self.config;
        let validity = match (requested_days(spec), &c.validity) {
            (Some(days), _) => Validity::Days(days.min(MAX_CERT_VALIDITY_DAYS)),
            (None, Some(v)) => match (v.days, v.years, &v.custom_expiration_date) {
                (Some(days), _, _) => Validity::Days(days),
                (None, Some(years), _) => Validity::Years(years),
                (None, None, Some(date)) => Validity::Until(date.clone()),
                (None, None, None) => Validity::Years(1),
            },
            (None, None) => Validity::Years(1),
        };
        EnrollmentProfile {
            approver_user_names: c.approver_user_names.clone(),
            requester_user_name: c.requester_user_name.clone(),
            intermediate_ca: IntermediateCa {
                certhash: c.intermediate_ca.certhash.clone(),
                common_name: c.intermediate_ca.common_name.clone(),
                serial_number: c.intermediate_ca.serial_number.clone(),
            },
            organization_id: c.organization_id,
            product_name_id: c.product_name_id.clone(),
            ev_approver_user_ids: c.ev_approver_user_ids.clone().unwrap_or_default(),
            signature_hash: match c.signature_hash {
                None | Some(QualysSignatureHash::Sha256) => SignatureHash::Sha256,
                Some(QualysSignatureHash::Sha384) => SignatureHash::Sha384,
                Some(QualysSignatureHash::Sha512) => SignatureHash::Sha512,
            },
            validity,
            organization_units: c.organization_units.clone().unwrap_or_default(),
        }
    }

    /// The certificate part of a request: our CSR (never `autoGenerateCSR`: the key stays in the
    /// cluster), the common name and every DNS name. A renewal is a new request: Qualys'
    /// `renewal` block names the previous DigiCert order id, which the enrollment view does not
    /// show (docs/qualys-wire.md).
    pub fn order(&self, spec: &CertificateSpec, csr: String) -> Result<CertificateOrder, ServiceError> {
        let (common_name, others) = names(SERVICE, spec)?;
        let mut dns_names = Vec::with_capacity(others.len() + 1);
        if spec
            .dns_names
            .as_ref()
            .is_some_and(|d| d.iter().any(|n| n.eq_ignore_ascii_case(&common_name)))
        {
            dns_names.push(common_name.clone());
        }
        dns_names.extend(others);
        Ok(CertificateOrder {
            csr_pem: csr,
            common_name,
            dns_names,
            renewal: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{QualysCredentialsRef, QualysIntermediateCa, QualysValidity};

    fn issuer(validity: Option<QualysValidity>) -> QualysSpec {
        QualysSpec {
            config: QualysCertViewIssuerConfig {
                url: "https://gateway.qg1.apps.qualys.com".into(),
                credentials_secret_ref: QualysCredentialsRef {
                    name: "q".into(),
                    username_key: "username".into(),
                    password_key: "password".into(),
                },
                organization_id: 525858,
                product_name_id: "ssl_plus".into(),
                intermediate_ca: QualysIntermediateCa {
                    common_name: Some("DigiCert Test Intermediate".into()),
                    ..Default::default()
                },
                approver_user_names: vec!["doe_john".into()],
                requester_user_name: None,
                ev_approver_user_ids: None,
                organization_units: None,
                signature_hash: Some(QualysSignatureHash::Sha384),
                validity,
                ca_bundle: None,
                requests_per_hour: None,
            },
        }
    }

    #[test]
    fn the_certificate_duration_wins_and_is_capped() {
        let mut spec = CertificateSpec::for_tests("q", &["a.example.com"]);
        let until = QualysValidity {
            days: None,
            years: None,
            custom_expiration_date: Some("2027-06-30".into()),
        };
        let profile = issuer(Some(until.clone())).profile(&spec);
        assert_eq!(profile.validity, Validity::Until("2027-06-30".into()));
        assert_eq!(profile.signature_hash, SignatureHash::Sha384);
        spec.duration = Some(std::time::Duration::from_secs(900 * 86_400).into());
        let profile = issuer(Some(until)).profile(&spec);
        assert_eq!(profile.validity, Validity::Days(MAX_CERT_VALIDITY_DAYS));
        assert!(issuer(None).validity_note(&spec).unwrap().contains("397"));
        assert_eq!(
            issuer(None)
                .profile(&CertificateSpec::for_tests("q", &["a"]))
                .validity,
            Validity::Years(1)
        );
    }

    #[test]
    fn orders_carry_every_dns_name_and_refuse_other_names() {
        let spec = CertificateSpec::for_tests("q", &["a.example.com", "b.example.com"]);
        let order = issuer(None).order(&spec, "CSR".into()).unwrap();
        assert_eq!(order.common_name, "a.example.com");
        assert_eq!(order.dns_names, ["a.example.com", "b.example.com"]);
        assert!(order.renewal.is_none());
        let mut ip = spec.clone();
        ip.ip_addresses = Some(vec!["10.0.0.1".into()]);
        let e = issuer(None).order(&ip, "CSR".into()).unwrap_err();
        assert!(e.to_string().contains("ipAddresses"), "{e}");
    }
}
