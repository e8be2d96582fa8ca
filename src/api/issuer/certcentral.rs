//! `spec.certCentral`: an issuer ordering from DigiCert CertCentral (Services API v2).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::api::SecretKeySelector;

fn default_certcentral_url() -> String {
    "https://www.digicert.com".into()
}

/// Connection to DigiCert CertCentral (Services API v2) and what to order there.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertCentralIssuerConfig {
    /// Base URL of CertCentral, default `https://www.digicert.com` (the operator appends
    /// `/services/v2/...`); EU and other bases are allowed. Must be https; plain http is
    /// accepted only for loopback addresses, so the local simulator can be used.
    #[serde(default = "default_certcentral_url")]
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("isURL(self) && url(self).getScheme() in ['https', 'http']").message("url must be an absolute https URL such as https://www.digicert.com"))]
    #[x_kube(validation = Rule::new("!isURL(self) || url(self).getScheme() == 'https' || url(self).getHostname() in ['127.0.0.1', 'localhost', '::1']").message("url must use https; plain http is only allowed for loopback addresses (127.0.0.1, ::1, localhost), e.g. for tlm-sim"))]
    pub url: String,

    /// The Secret key holding the CertCentral API key (sent as `X-DC-DEVKEY`). For a
    /// ClusterIssuer the Secret must live in the operator's ClusterIssuer namespace.
    pub api_key_secret_ref: SecretKeySelector,

    /// The product ordered, e.g. `ssl_basic`, `ssl_plus`, `ssl_securesite_flex`, `ssl_ev_basic`,
    /// `ssl_dv_geotrust` or a private TLS product.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_.-]+$')").message("productNameId must be a CertCentral product name id such as ssl_plus"))]
    pub product_name_id: String,

    /// The CertCentral organization the certificates are for (required by OV and EV products;
    /// DV products take none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub organization_id: Option<u64>,

    /// The container (division) orders are placed in; the API key's own by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub container_id: Option<u64>,

    /// The order's validity (`order_validity`), default one year. A Certificate's `duration`
    /// sets the validity of the certificate itself (`cert_validity.days`), which CertCentral
    /// caps at 397 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<CertCentralValidity>,

    /// Ask CertCentral to skip the account's approval step for orders, reissues and
    /// revocations (`skip_approval`; the API key needs the rights to). Without it every order
    /// waits for an approver in CertCentral.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_approval: Option<bool>,

    /// Names this cluster in the note attached to every order (the audit trail:
    /// `tlm-operator: cluster=<clusterName> namespace=... certificate=... uid=...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("!self.contains(' ')").message("clusterName must not contain spaces"))]
    pub cluster_name: Option<String>,

    /// PEM bundle of CA certificates trusted for TLS to `url`, in addition to nothing else: when
    /// set, only these roots are trusted. Verification is never disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN CERTIFICATE-----')").message("caBundle must contain at least one PEM certificate"))]
    #[schemars(length(max = 262144))]
    pub ca_bundle: Option<String>,
}

/// A CertCentral order validity: exactly one of `days` or `years`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[x_kube(validation = Rule::new("has(self.days) != has(self.years)").message("validity needs exactly one of days or years"))]
pub struct CertCentralValidity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1095))]
    pub days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3))]
    pub years: Option<u32>,
}

/// A short summary of a CertCentral issuer's last health check.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertCentralSummary {
    /// The product ordered.
    pub product_name_id: String,
    /// The organization ordered for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<u64>,
    /// Whether orders ask to skip CertCentral's approval step.
    pub skip_approval: bool,
    /// How many orders the API key can see (`page.total` of a one-order list), if answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_orders: Option<u64>,
}
