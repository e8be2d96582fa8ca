//! `Issuer` (namespaced) and `ClusterIssuer` (cluster-wide): where and how certificates are
//! obtained: from DigiCert Trust Lifecycle Manager (`spec.tlm`) or DigiCert CertCentral
//! (`spec.certCentral`), exactly one per issuer.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretKeySelector;

/// Connection to one DigiCert Trust Lifecycle Manager profile.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TlmIssuerConfig {
    /// Base URL of the TLM tenant, e.g. `https://one.digicert.com` (the operator appends
    /// `/mpki/api/...`). Must be https; plain http is accepted only for loopback addresses, so
    /// the local simulator can be used.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("isURL(self) && url(self).getScheme() in ['https', 'http']").message("url must be an absolute https URL such as https://one.digicert.com"))]
    #[x_kube(validation = Rule::new("!isURL(self) || url(self).getScheme() == 'https' || url(self).getHostname() in ['127.0.0.1', 'localhost', '::1']").message("url must use https; plain http is only allowed for loopback addresses (127.0.0.1, ::1, localhost), e.g. for tlm-sim"))]
    pub url: String,

    /// The Secret key holding the TLM API key (sent as `x-api-key`). For a ClusterIssuer the
    /// Secret must live in the operator's ClusterIssuer namespace.
    pub api_key_secret_ref: SecretKeySelector,

    /// ID of the TLM certificate profile to enroll against. The profile must be Active and use
    /// the `rest_api` enrollment method.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self.trim() != ''").message("profileId must not be empty"))]
    pub profile_id: String,

    /// Seat that will own issued certificates (often an email address or a host name). When
    /// unset, the Certificate's `seatId` or its common name is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub seat_id: Option<String>,

    /// PEM bundle of CA certificates trusted for TLS to `url`, in addition to nothing else: when
    /// set, only these roots are trusted. Verification is never disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN CERTIFICATE-----')").message("caBundle must contain at least one PEM certificate"))]
    #[schemars(length(max = 262144))]
    pub ca_bundle: Option<String>,

    /// Validity requested for issued certificates when a Certificate sets no `duration`. The
    /// profile must allow overriding validity via the API; otherwise the profile's own validity
    /// applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
}

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

/// The backend an issuer names: exactly one of its `tlm` and `certCentral`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerBackendConfig {
    Tlm(TlmIssuerConfig),
    CertCentral(CertCentralIssuerConfig),
}

impl IssuerBackendConfig {
    fn of(tlm: &Option<TlmIssuerConfig>, cert_central: &Option<CertCentralIssuerConfig>) -> Option<Self> {
        match (tlm, cert_central) {
            (Some(tlm), None) => Some(Self::Tlm(tlm.clone())),
            (None, Some(cc)) => Some(Self::CertCentral(cc.clone())),
            _ => None,
        }
    }
}

/// A validity period in the unit TLM uses.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Validity {
    /// Unit of `duration`.
    pub unit: ValidityUnit,
    /// Number of units.
    #[schemars(range(min = 1, max = 3650))]
    pub duration: u32,
}

/// Units TLM accepts for validity.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ValidityUnit {
    Days,
    Months,
    Years,
}

/// Desired state of an Issuer.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[kube(
    group = "tlm.certops.dev",
    version = "v1alpha1",
    kind = "Issuer",
    namespaced,
    status = "IssuerStatus",
    shortname = "tlmissuer",
    category = "tlm",
    doc = "An Issuer obtains certificates for Certificates in its own namespace from one DigiCert Trust Lifecycle Manager profile or DigiCert CertCentral product.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Profile", type_ = "string", json_path = ".spec.tlm.profileId"),
    printcolumn(
        name = "Product",
        type_ = "string",
        json_path = ".spec.certCentral.productNameId"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.tlm), has(self.certCentral)].exists_one(x, x)").message("exactly one backend per issuer: set either spec.tlm or spec.certCentral, not both and not neither"))]
pub struct IssuerSpec {
    /// DigiCert Trust Lifecycle Manager connection and profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlm: Option<TlmIssuerConfig>,
    /// DigiCert CertCentral connection and product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_central: Option<CertCentralIssuerConfig>,
    /// Revoke a Certificate's current certificate in the backend (reason
    /// `cessation_of_operation`) when the Certificate is deleted. A Certificate's own
    /// `revokeOnDelete` overrides this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_on_delete: Option<bool>,
}

/// Desired state of a ClusterIssuer: the same as an Issuer, usable from every namespace.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[kube(
    group = "tlm.certops.dev",
    version = "v1alpha1",
    kind = "ClusterIssuer",
    status = "IssuerStatus",
    shortname = "tlmclusterissuer",
    category = "tlm",
    doc = "A ClusterIssuer obtains certificates for Certificates in any namespace from one DigiCert Trust Lifecycle Manager profile or DigiCert CertCentral product. Its API key Secret lives in the operator's ClusterIssuer namespace.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Profile", type_ = "string", json_path = ".spec.tlm.profileId"),
    printcolumn(
        name = "Product",
        type_ = "string",
        json_path = ".spec.certCentral.productNameId"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.tlm), has(self.certCentral)].exists_one(x, x)").message("exactly one backend per issuer: set either spec.tlm or spec.certCentral, not both and not neither"))]
pub struct ClusterIssuerSpec {
    /// DigiCert Trust Lifecycle Manager connection and profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlm: Option<TlmIssuerConfig>,
    /// DigiCert CertCentral connection and product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_central: Option<CertCentralIssuerConfig>,
    /// Revoke a Certificate's current certificate in the backend (reason
    /// `cessation_of_operation`) when the Certificate is deleted. A Certificate's own
    /// `revokeOnDelete` overrides this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_on_delete: Option<bool>,
}

/// Observed state of an Issuer or ClusterIssuer.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IssuerStatus {
    /// `Ready` tells whether the credentials work and the profile can issue over the REST API;
    /// its reason says what to fix when it is False.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// What the last successful health check saw of the profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileSummary>,
    /// What the last successful health check of a CertCentral issuer saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_central: Option<CertCentralSummary>,
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A short summary of a TLM profile.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileSummary {
    /// Profile ID.
    pub id: String,
    /// Profile name as shown in TLM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Profile status (Active, Disabled, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Enrollment method; must be `rest_api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_method: Option<String>,
    /// How TLM delivers certificates for this profile (x509 or pkcs7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_format: Option<String>,
    /// Days before expiry in which TLM treats a request as a renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_period_days: Option<i64>,
    /// How requesters authenticate: `third_party_app` issues at once; `manual_approval` (or any
    /// other method) may leave requests pending until someone approves them in TLM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_method: Option<String>,
    /// Whether a Certificate's `duration` (or the Issuer's `validity`) is honoured. When false
    /// the profile's own validity applies and the operator does not send one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_override: Option<bool>,
    /// The profile's own validity, e.g. "365 days".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
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

/// The parts of Issuer and ClusterIssuer that the controllers use, whichever kind it is.
pub trait IssuerLike {
    fn tlm(&self) -> Option<&TlmIssuerConfig>;
    /// The issuer's one backend (None only for an object the CEL rule would refuse).
    fn backend_config(&self) -> Option<IssuerBackendConfig>;
    fn revoke_on_delete(&self) -> Option<bool>;
    fn issuer_status(&self) -> Option<&IssuerStatus>;
}

impl IssuerLike for Issuer {
    fn tlm(&self) -> Option<&TlmIssuerConfig> {
        self.spec.tlm.as_ref()
    }
    fn backend_config(&self) -> Option<IssuerBackendConfig> {
        IssuerBackendConfig::of(&self.spec.tlm, &self.spec.cert_central)
    }
    fn revoke_on_delete(&self) -> Option<bool> {
        self.spec.revoke_on_delete
    }
    fn issuer_status(&self) -> Option<&IssuerStatus> {
        self.status.as_ref()
    }
}

impl IssuerLike for ClusterIssuer {
    fn tlm(&self) -> Option<&TlmIssuerConfig> {
        self.spec.tlm.as_ref()
    }
    fn backend_config(&self) -> Option<IssuerBackendConfig> {
        IssuerBackendConfig::of(&self.spec.tlm, &self.spec.cert_central)
    }
    fn revoke_on_delete(&self) -> Option<bool> {
        self.spec.revoke_on_delete
    }
    fn issuer_status(&self) -> Option<&IssuerStatus> {
        self.status.as_ref()
    }
}
