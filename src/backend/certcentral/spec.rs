//! What the Certificate lifecycle knows of a CertCentral Issuer, and the order bodies built from
//! a Certificate's spec. No IO.

use crate::api::{CertCentralIssuerConfig, CertificateSpec};
use crate::backend::Owner;
use crate::backend::dns_order::{MAX_CERT_VALIDITY_DAYS, capped_validity_note, names, requested_days};
use crate::clients::certcentral_order_recovery::OrderMarker;
use crate::clients::certcentral_order_types::{NewOrder, OrderValidity, Reissue};
use crate::clients::error::ServiceError;

use super::SERVICE;

#[derive(Clone, Debug)]
pub struct CertCentralSpec {
    pub config: CertCentralIssuerConfig,
}

impl CertCentralSpec {
    /// Where orders go, as Events name it.
    pub fn ordered_from(&self) -> String {
        match self.config.organization_id {
            Some(org) => format!(
                "CertCentral product {} (organization {org})",
                self.config.product_name_id
            ),
            None => format!("CertCentral product {}", self.config.product_name_id),
        }
    }

    /// A 403: the key is valid but lacks a permission.
    pub fn access_denied(&self, e: &ServiceError) -> String {
        format!(
            "{e}: the API key may not order product {} for this organization or container, or may not skip approval (check the key's role and restrictions in CertCentral and the Issuer's productNameId, organizationId, containerId and skipApproval)",
            self.config.product_name_id
        )
    }

    /// A duration longer than CertCentral issues is capped: say so.
    pub fn validity_note(&self, spec: &CertificateSpec) -> Option<String> {
        capped_validity_note(SERVICE, spec)
    }

    pub fn skip_approval(&self) -> bool {
        self.config.skip_approval.unwrap_or(false)
    }

    /// The audit note for an order placed for `owner`.
    pub fn marker(&self, owner: &Owner) -> OrderMarker {
        OrderMarker {
            cluster: self
                .config
                .cluster_name
                .clone()
                .unwrap_or_else(|| "unnamed".into()),
            namespace: owner.namespace.clone(),
            name: owner.name.clone(),
            uid: owner.uid.clone(),
        }
    }

    /// The order for a Certificate: its common name and DNS names, the Issuer's organization,
    /// container and order validity, the Certificate's duration as the certificate's validity.
    pub fn new_order(
        &self,
        spec: &CertificateSpec,
        owner: &Owner,
        csr: String,
    ) -> Result<NewOrder, ServiceError> {
        let (common_name, dns_names) = names(SERVICE, spec)?;
        let validity = match self.config.validity {
            Some(v) => match (v.days, v.years) {
                (Some(days), _) => OrderValidity::Days(days),
                (None, Some(years)) => OrderValidity::Years(years),
                (None, None) => OrderValidity::Years(1),
            },
            None => OrderValidity::Years(1),
        };
        Ok(NewOrder {
            csr,
            common_name,
            dns_names,
            organization_id: self.config.organization_id,
            container_id: self.config.container_id,
            validity,
            cert_validity_days: requested_days(spec).map(|d| d.min(MAX_CERT_VALIDITY_DAYS)),
            comments: Some(comments(owner)),
            skip_approval: self.skip_approval(),
        })
    }

    /// A reissue of an order with our new CSR (key rotation at renewal).
    pub fn reissue(
        &self,
        spec: &CertificateSpec,
        owner: &Owner,
        csr: String,
    ) -> Result<Reissue, ServiceError> {
        let (common_name, dns_names) = names(SERVICE, spec)?;
        Ok(Reissue {
            csr,
            common_name,
            dns_names,
            skip_approval: self.skip_approval(),
            comments: Some(comments(owner)),
        })
    }
}

fn comments(owner: &Owner) -> String {
    format!(
        "Requested by tlm-operator for Certificate {}/{} (uid {})",
        owner.namespace, owner.name, owner.uid
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CertCentralValidity, SecretKeySelector};

    fn spec(dns: &[&str]) -> CertificateSpec {
        CertificateSpec::for_tests("cc", dns)
    }

    fn issuer() -> CertCentralSpec {
        CertCentralSpec {
            config: CertCentralIssuerConfig {
                url: "https://www.digicert.com".into(),
                api_key_secret_ref: SecretKeySelector {
                    name: "k".into(),
                    key: "k".into(),
                },
                product_name_id: "ssl_plus".into(),
                organization_id: Some(7),
                container_id: None,
                validity: Some(CertCentralValidity {
                    days: None,
                    years: Some(2),
                }),
                skip_approval: Some(true),
                cluster_name: Some("prod".into()),
                ca_bundle: None,
            },
        }
    }

    fn owner() -> Owner {
        Owner {
            namespace: "app".into(),
            name: "web".into(),
            uid: "u-1".into(),
        }
    }

    #[test]
    fn order_carries_names_org_validity_and_the_owner() {
        let mut s = spec(&["a.example.com", "b.example.com"]);
        s.duration = Some(std::time::Duration::from_secs(500 * 86_400).into());
        let order = issuer().new_order(&s, &owner(), "CSR".into()).unwrap();
        assert_eq!(order.common_name, "a.example.com");
        assert_eq!(order.dns_names, ["b.example.com"]);
        assert_eq!(order.organization_id, Some(7));
        assert_eq!(order.validity, OrderValidity::Years(2));
        assert_eq!(order.cert_validity_days, Some(MAX_CERT_VALIDITY_DAYS));
        assert!(order.skip_approval);
        assert!(order.comments.unwrap().contains("app/web"));
        assert!(issuer().validity_note(&s).unwrap().contains("397"));
        let note = issuer().marker(&owner()).note_text();
        assert_eq!(
            note,
            "tlm-operator: cluster=prod namespace=app certificate=web uid=u-1"
        );
    }

    #[test]
    fn ip_addresses_are_refused() {
        let mut s = spec(&["a.example.com"]);
        s.ip_addresses = Some(vec!["10.0.0.1".into()]);
        let e = issuer().new_order(&s, &owner(), "CSR".into()).unwrap_err();
        assert!(e.to_string().contains("ipAddresses"), "{e}");
    }
}
