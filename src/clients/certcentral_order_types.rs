//! Wire shapes of DigiCert CertCentral Services API v2 orders (`docs/certcentral-wire.md` names
//! the source of every field), and the outcome each order status means for a Certificate.

use serde::{Deserialize, Deserializer, Serialize};

/// How long the order (and its first certificate) is valid: `order_validity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderValidity {
    Days(u32),
    Years(u32),
}

/// Everything an order needs; the product is part of the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// PEM PKCS#10; the key never leaves the cluster.
    pub csr: String,
    pub common_name: String,
    /// Additional names (SANs besides the common name).
    pub dns_names: Vec<String>,
    /// Required by OV/EV products; DV products take none.
    pub organization_id: Option<u64>,
    pub container_id: Option<u64>,
    pub validity: OrderValidity,
    /// Validity of the first certificate, when shorter than the order's.
    pub cert_validity_days: Option<u32>,
    /// `comments`: a message for the approver.
    pub comments: Option<String>,
    /// Skip the account's approval step (the key needs the rights to).
    pub skip_approval: bool,
}

/// A reissue with a new CSR (key rotation) and possibly new names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reissue {
    pub csr: String,
    pub common_name: String,
    pub dns_names: Vec<String>,
    pub skip_approval: bool,
    pub comments: Option<String>,
}

/// `PUT /certificate/{id}/revoke` options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Revocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    pub skip_approval: bool,
    /// e.g. `superseded`, `key_compromise`, `cessation_of_operation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct IdRef {
    pub id: u64,
}

#[derive(Serialize)]
pub(crate) struct DaysRef {
    pub days: u32,
}

#[derive(Serialize)]
pub(crate) struct CertificateWire<'a> {
    pub common_name: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub dns_names: &'a [String],
    pub csr: &'a str,
    pub signature_hash: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_validity: Option<DaysRef>,
}

#[derive(Serialize)]
pub(crate) struct OrderWire<'a> {
    pub certificate: CertificateWire<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<IdRef>,
    pub order_validity: OrderValidity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<&'a str>,
    pub skip_approval: bool,
}

impl<'a> OrderWire<'a> {
    pub fn from(order: &'a NewOrder) -> Self {
        OrderWire {
            certificate: CertificateWire {
                common_name: &order.common_name,
                dns_names: &order.dns_names,
                csr: &order.csr,
                signature_hash: "sha256",
                cert_validity: order.cert_validity_days.map(|days| DaysRef { days }),
            },
            organization: order.organization_id.map(|id| IdRef { id }),
            container: order.container_id.map(|id| IdRef { id }),
            order_validity: order.validity,
            comments: order.comments.as_deref(),
            skip_approval: order.skip_approval,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ReissueWire<'a> {
    pub certificate: CertificateWire<'a>,
    pub skip_approval: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<&'a str>,
}

impl<'a> ReissueWire<'a> {
    pub fn from(reissue: &'a Reissue) -> Self {
        ReissueWire {
            certificate: CertificateWire {
                common_name: &reissue.common_name,
                dns_names: &reissue.dns_names,
                csr: &reissue.csr,
                signature_hash: "sha256",
                cert_validity: None,
            },
            skip_approval: reissue.skip_approval,
            comments: reissue.comments.as_deref(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct NoteWire<'a> {
    pub text: &'a str,
}

/// Ids are numbers in the reference; some clients read them as strings: accept both.
fn id_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Number(u64),
        Text(String),
    }
    match Id::deserialize(deserializer)? {
        Id::Number(n) => Ok(n),
        Id::Text(t) => t.trim().parse().map_err(serde::de::Error::custom),
    }
}

fn opt_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "id_number")] u64);
    Ok(Option::<Wrap>::deserialize(deserializer)?.map(|w| w.0))
}

/// One approval request of an order (`requests[]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ApprovalRequest {
    #[serde(deserialize_with = "id_number")]
    pub id: u64,
    #[serde(default)]
    pub status: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ChainElement {
    #[serde(default)]
    pub subject_common_name: Option<String>,
    pub pem: String,
}

/// The answer to an order or reissue: issued at once (`certificate_id` and the chain) or not.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct PlacedOrder {
    #[serde(rename = "id", deserialize_with = "id_number")]
    pub order_id: u64,
    #[serde(default)]
    pub requests: Vec<ApprovalRequest>,
    #[serde(default, deserialize_with = "opt_id")]
    pub certificate_id: Option<u64>,
    #[serde(default)]
    pub certificate_chain: Vec<ChainElement>,
}

impl PlacedOrder {
    /// The chain came with the answer: nothing to poll.
    pub fn issued(&self) -> bool {
        self.certificate_id.is_some() && !self.certificate_chain.is_empty()
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct OrderCertificate {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<u64>,
    #[serde(default)]
    pub common_name: Option<String>,
    #[serde(default)]
    pub dns_names: Vec<String>,
    #[serde(default)]
    pub csr: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub valid_till: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Note {
    #[serde(deserialize_with = "id_number")]
    pub id: u64,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub text: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ProductRef {
    #[serde(default)]
    pub name_id: Option<String>,
}

/// `GET /order/certificate/{order_id}`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct OrderInfo {
    #[serde(deserialize_with = "id_number")]
    pub id: u64,
    pub status: String,
    #[serde(default)]
    pub certificate: OrderCertificate,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub product: Option<ProductRef>,
    #[serde(default)]
    pub requests: Vec<ApprovalRequest>,
    #[serde(default)]
    pub notes: Vec<Note>,
}

impl OrderInfo {
    pub fn outcome(&self) -> OrderOutcome {
        OrderOutcome::of(&self.status)
    }
}

/// One entry of `GET /order/certificate`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct OrderSummary {
    #[serde(deserialize_with = "id_number")]
    pub id: u64,
    pub status: String,
    #[serde(default)]
    pub certificate: OrderCertificate,
    #[serde(default)]
    pub date_created: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct PageInfo {
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub offset: Option<u64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct OrderPage {
    #[serde(default)]
    pub orders: Vec<OrderSummary>,
    #[serde(default)]
    pub page: PageInfo,
}

#[derive(Deserialize)]
pub(crate) struct NotesWire {
    #[serde(default)]
    pub notes: Vec<Note>,
}

/// What an order's status means for the Certificate waiting on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderOutcome {
    Issued,
    /// Waiting for an approver in the account (`needs_approval`).
    AwaitingApproval,
    /// Waiting for DigiCert: domain/organization validation, pickup or a reissue.
    AwaitingValidation,
    Rejected,
    Canceled,
    Revoked,
    Expired,
    /// A status this client does not know: treat as still pending, and say so.
    Unknown,
}

impl OrderOutcome {
    pub fn of(status: &str) -> Self {
        match status.to_ascii_lowercase().as_str() {
            "issued" | "approved" => OrderOutcome::Issued,
            "needs_approval" => OrderOutcome::AwaitingApproval,
            "pending" | "processing" | "waiting_pickup" | "reissue_pending" | "needs_csr" => {
                OrderOutcome::AwaitingValidation
            }
            "rejected" | "denied" => OrderOutcome::Rejected,
            "canceled" | "cancelled" => OrderOutcome::Canceled,
            "revoked" => OrderOutcome::Revoked,
            "expired" => OrderOutcome::Expired,
            _ => OrderOutcome::Unknown,
        }
    }

    /// No certificate will come out of this order any more.
    pub fn is_final_failure(self) -> bool {
        matches!(
            self,
            OrderOutcome::Rejected | OrderOutcome::Canceled | OrderOutcome::Revoked | OrderOutcome::Expired
        )
    }
}

/// `{{format_type}}` of the certificate download endpoints (PEM bundles only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainFormat {
    /// Leaf, intermediates and root.
    PemAll,
    /// Leaf and intermediates.
    PemNoRoot,
}

impl ChainFormat {
    pub fn wire_name(self) -> &'static str {
        match self {
            ChainFormat::PemAll => "pem_all",
            ChainFormat::PemNoRoot => "pem_noroot",
        }
    }
}

/// How a revocation request was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// 204: revoked without an approval step.
    Revoked,
    /// 201: a revoke request waits for an administrator.
    Requested { request_id: u64, status: String },
}

#[derive(Deserialize)]
pub(crate) struct RevokeRequestWire {
    #[serde(deserialize_with = "id_number")]
    pub id: u64,
    #[serde(default)]
    pub status: String,
}
