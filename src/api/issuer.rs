//! `Issuer` (namespaced) and `ClusterIssuer` (cluster-wide): where and how certificates are
//! obtained: from DigiCert Trust Lifecycle Manager (`spec.tlm`), DigiCert CertCentral
//! (`spec.certCentral`) or Qualys CertView (`spec.qualysCertView`), exactly one per issuer.

mod certcentral;
mod qualys;

pub use certcentral::*;
pub use qualys::*;

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

/// The backend an issuer names: exactly one of its `tlm`, `certCentral` and `qualysCertView`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssuerBackendConfig {
    Tlm(TlmIssuerConfig),
    CertCentral(CertCentralIssuerConfig),
    QualysCertView(QualysCertViewIssuerConfig),
}

impl IssuerBackendConfig {
    fn of(
        tlm: &Option<TlmIssuerConfig>,
        cert_central: &Option<CertCentralIssuerConfig>,
        qualys: &Option<QualysCertViewIssuerConfig>,
    ) -> Option<Self> {
        match (tlm, cert_central, qualys) {
            (Some(tlm), None, None) => Some(Self::Tlm(tlm.clone())),
            (None, Some(cc), None) => Some(Self::CertCentral(cc.clone())),
            (None, None, Some(q)) => Some(Self::QualysCertView(q.clone())),
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
    doc = "An Issuer obtains certificates for Certificates in its own namespace from one DigiCert Trust Lifecycle Manager profile, DigiCert CertCentral product or Qualys CertView enrollment.",
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
        name = "Qualys Product",
        type_ = "string",
        json_path = ".spec.qualysCertView.productNameId",
        priority = 1
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
#[x_kube(validation = Rule::new("[has(self.tlm), has(self.certCentral), has(self.qualysCertView)].exists_one(x, x)").message("exactly one backend per issuer: set one of spec.tlm, spec.certCentral and spec.qualysCertView"))]
#[x_kube(validation = Rule::new("!has(self.qualysCertView) || !has(self.revokeOnDelete) || !self.revokeOnDelete").message("revokeOnDelete is not available with spec.qualysCertView: Qualys CertView offers no revocation API (revoke in DigiCert CertCentral)"))]
pub struct IssuerSpec {
    /// DigiCert Trust Lifecycle Manager connection and profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlm: Option<TlmIssuerConfig>,
    /// DigiCert CertCentral connection and product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_central: Option<CertCentralIssuerConfig>,
    /// Qualys CertView connection and the DigiCert order placed through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualys_cert_view: Option<QualysCertViewIssuerConfig>,
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
    doc = "A ClusterIssuer obtains certificates for Certificates in any namespace from one DigiCert Trust Lifecycle Manager profile, DigiCert CertCentral product or Qualys CertView enrollment. Its API key Secret lives in the operator's ClusterIssuer namespace.",
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
        name = "Qualys Product",
        type_ = "string",
        json_path = ".spec.qualysCertView.productNameId",
        priority = 1
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
#[x_kube(validation = Rule::new("[has(self.tlm), has(self.certCentral), has(self.qualysCertView)].exists_one(x, x)").message("exactly one backend per issuer: set one of spec.tlm, spec.certCentral and spec.qualysCertView"))]
#[x_kube(validation = Rule::new("!has(self.qualysCertView) || !has(self.revokeOnDelete) || !self.revokeOnDelete").message("revokeOnDelete is not available with spec.qualysCertView: Qualys CertView offers no revocation API (revoke in DigiCert CertCentral)"))]
pub struct ClusterIssuerSpec {
    /// DigiCert Trust Lifecycle Manager connection and profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlm: Option<TlmIssuerConfig>,
    /// DigiCert CertCentral connection and product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_central: Option<CertCentralIssuerConfig>,
    /// Qualys CertView connection and the DigiCert order placed through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualys_cert_view: Option<QualysCertViewIssuerConfig>,
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
    /// What the last successful health check of a Qualys CertView issuer saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualys_cert_view: Option<QualysSummary>,
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
        IssuerBackendConfig::of(
            &self.spec.tlm,
            &self.spec.cert_central,
            &self.spec.qualys_cert_view,
        )
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
        IssuerBackendConfig::of(
            &self.spec.tlm,
            &self.spec.cert_central,
            &self.spec.qualys_cert_view,
        )
    }
    fn revoke_on_delete(&self) -> Option<bool> {
        self.spec.revoke_on_delete
    }
    fn issuer_status(&self) -> Option<&IssuerStatus> {
        self.status.as_ref()
    }
}
