//! `spec.qualysCertView`: an issuer placing DigiCert orders through Qualys CertView's enrollment
//! API. Field names follow the enrollment request (docs/qualys-wire.md).

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

fn default_username_key() -> String {
    "username".into()
}

fn default_password_key() -> String {
    "password".into()
}

/// Connection to Qualys CertView and the DigiCert order every enrollment request places.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct QualysCertViewIssuerConfig {
    /// The API gateway of the Qualys platform the subscription lives on, e.g.
    /// `https://gateway.qg1.apps.qualys.com` (the operator appends `/auth` and
    /// `/certview/rest/public/v1/...`). Must be https; plain http is accepted only for loopback
    /// addresses, so the local simulator can be used.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("isURL(self) && url(self).getScheme() in ['https', 'http']").message("url must be an absolute https URL such as https://gateway.qg1.apps.qualys.com"))]
    #[x_kube(validation = Rule::new("!isURL(self) || url(self).getScheme() == 'https' || url(self).getHostname() in ['127.0.0.1', 'localhost', '::1']").message("url must use https; plain http is only allowed for loopback addresses (127.0.0.1, ::1, localhost), e.g. for tlm-sim"))]
    pub url: String,

    /// The Secret holding the Qualys API user's name and password; the operator exchanges them
    /// for a JWT (`POST /auth`) and fetches a new one before it expires. For a ClusterIssuer the
    /// Secret must live in the operator's ClusterIssuer namespace.
    pub credentials_secret_ref: QualysCredentialsRef,

    /// The DigiCert organization the certificates are for (`digicertOrganizationId`).
    #[schemars(range(min = 1))]
    pub organization_id: u64,

    /// The DigiCert product ordered (`digicertProductNameId`), e.g. `ssl_plus` or
    /// `private_ssl_plus`.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_.-]+$')").message("productNameId must be a DigiCert product name id such as ssl_plus"))]
    pub product_name_id: String,

    /// The DigiCert intermediate CA the subscription holds a CertCentral API key for
    /// (`intermediateCA`): at least one of its certhash, common name or serial number.
    #[serde(rename = "intermediateCA")]
    pub intermediate_ca: QualysIntermediateCa,

    /// Qualys users (managers, PKI admins or approvers) who approve every request
    /// (`approverUserNames`). Requests stay `SUBMITTED` until one of them approves.
    #[schemars(length(min = 1, max = 32))]
    #[x_kube(validation = Rule::new("self.all(n, n.size() > 0 && n.size() <= 128)").message("approverUserNames entries must be 1 to 128 characters"))]
    pub approver_user_names: Vec<String>,

    /// The Qualys user named as requester (`requesterUserName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub requester_user_name: Option<String>,

    /// DigiCert user ids approving EV orders (`digicertEVApproverUserIds`; EV products only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub ev_approver_user_ids: Option<Vec<u64>>,

    /// Organization units placed in the certificate (`certificate.organizationUnits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new("self.all(u, u.size() > 0 && u.size() <= 64)").message("organizationUnits entries must be 1 to 64 characters"))]
    pub organization_units: Option<Vec<String>>,

    /// The certificate's signature hash, default `SHA-256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_hash: Option<QualysSignatureHash>,

    /// The validity asked for when a Certificate sets no `duration`: exactly one of `days`,
    /// `years` or `customExpirationDate`. Default one year. A Certificate's `duration` is sent
    /// as days (DigiCert caps public TLS certificates at 397 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<QualysValidity>,

    /// Most calls per hour the operator makes to the CertView API for this issuer (the
    /// subscription's `X-RateLimit-Limit` over its window; Qualys' default is 300 per hour,
    /// used when unset). At most 2 calls are in flight at once, Qualys' default concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600000))]
    pub requests_per_hour: Option<u32>,

    /// PEM bundle of CA certificates trusted for TLS to `url`, in addition to nothing else: when
    /// set, only these roots are trusted. Verification is never disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.contains('-----BEGIN CERTIFICATE-----')").message("caBundle must contain at least one PEM certificate"))]
    #[schemars(length(max = 262144))]
    pub ca_bundle: Option<String>,
}

/// Where the Qualys API user's credentials are: one Secret, two keys.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct QualysCredentialsRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key holding the user name, default `username`.
    #[serde(default = "default_username_key")]
    #[schemars(length(min = 1, max = 253))]
    pub username_key: String,
    /// Key holding the password, default `password`.
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253))]
    pub password_key: String,
}

/// Names the DigiCert intermediate CA: at least one field.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.certhash) || has(self.commonName) || has(self.serialNumber)").message("intermediateCA needs at least one of certhash, commonName or serialNumber"))]
pub struct QualysIntermediateCa {
    /// SHA-256 of the intermediate's DER, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub certhash: Option<String>,
    /// The intermediate's common name, e.g. `DigiCert Global G2 TLS RSA SHA256 2020 CA1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub common_name: Option<String>,
    /// The intermediate's serial number, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub serial_number: Option<String>,
}

/// Signature hashes the enrollment request takes.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum QualysSignatureHash {
    #[serde(rename = "SHA-256")]
    Sha256,
    #[serde(rename = "SHA-384")]
    Sha384,
    #[serde(rename = "SHA-512")]
    Sha512,
}

/// The request's validity: exactly one of `days`, `years`, `customExpirationDate`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.days), has(self.years), has(self.customExpirationDate)].exists_one(x, x)").message("validity needs exactly one of days, years or customExpirationDate"))]
pub struct QualysValidity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1095))]
    pub days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3))]
    pub years: Option<u32>,
    /// An expiry date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}$')").message("customExpirationDate must be a date such as 2027-06-30"))]
    pub custom_expiration_date: Option<String>,
}

/// A short summary of a Qualys CertView issuer's last health check.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct QualysSummary {
    /// The DigiCert product ordered.
    pub product_name_id: String,
    /// The DigiCert organization ordered for.
    pub organization_id: u64,
    /// The Qualys users who approve requests.
    pub approver_user_names: Vec<String>,
}
