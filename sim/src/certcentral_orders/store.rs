//! The CertCentral account's orders: each with its certificates (the last is current), notes and
//! pending approval step. Ids are numbers, as the Services API's are.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::ca::IssuedCertificate;
use crate::tlm::store::LeafOrder;

use super::rate::RateBook;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    NeedsApproval,
    Pending,
    Issued,
    ReissuePending,
    Rejected,
    Canceled,
    Revoked,
}

impl OrderStatus {
    pub fn wire_name(self) -> &'static str {
        match self {
            OrderStatus::NeedsApproval => "needs_approval",
            OrderStatus::Pending => "pending",
            OrderStatus::Issued => "issued",
            OrderStatus::ReissuePending => "reissue_pending",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Revoked => "revoked",
        }
    }
}

/// A product the sim sells: `ssl_*` OV/EV products need an organization, DV ones do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    pub name_id: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub needs_organization: bool,
}

pub const PRODUCTS: &[Product] = &[
    Product {
        name_id: "ssl_basic",
        name: "Basic OV",
        kind: "ssl_certificate",
        needs_organization: true,
    },
    Product {
        name_id: "ssl_plus",
        name: "Standard SSL",
        kind: "ssl_certificate",
        needs_organization: true,
    },
    Product {
        name_id: "ssl_securesite_flex",
        name: "Secure Site OV",
        kind: "ssl_certificate",
        needs_organization: true,
    },
    Product {
        name_id: "ssl_ev_basic",
        name: "Basic EV",
        kind: "ssl_certificate",
        needs_organization: true,
    },
    Product {
        name_id: "private_ssl_plus",
        name: "Private SSL",
        kind: "private_ssl_certificate",
        needs_organization: true,
    },
    Product {
        name_id: "ssl_dv_geotrust",
        name: "GeoTrust Standard DV",
        kind: "dv_ssl_certificate",
        needs_organization: false,
    },
    Product {
        name_id: "ssl_dv_rapidssl",
        name: "RapidSSL Standard DV",
        kind: "dv_ssl_certificate",
        needs_organization: false,
    },
];

pub fn product(name_id: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.name_id == name_id)
}

/// What is signed for an order (or a reissue of it): the CSR's key and the names asked for.
#[derive(Clone, Debug)]
pub struct Requested {
    pub leaf: Arc<LeafOrder>,
    pub csr: String,
    pub common_name: String,
    pub dns_names: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct CcCertificate {
    pub id: u64,
    pub issued: Arc<IssuedCertificate>,
    pub revoked: bool,
    pub date_created: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub struct Note {
    pub id: u64,
    pub date_created: OffsetDateTime,
    pub text: String,
}

/// An approval request on the order (`requests[]` in answers).
#[derive(Clone, Debug)]
pub struct ApprovalRequest {
    pub id: u64,
    pub status: &'static str,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: u64,
    pub product: &'static Product,
    pub organization_id: Option<u64>,
    pub container_id: Option<u64>,
    pub comments: Option<String>,
    pub date_created: OffsetDateTime,
    pub status: OrderStatus,
    /// What the current (or pending) certificate is for.
    pub requested: Requested,
    /// A reissue waiting for approval or validation.
    pub reissue: Option<Requested>,
    pub requests: Vec<ApprovalRequest>,
    pub certificates: Vec<CcCertificate>,
    pub notes: Vec<Note>,
    /// A revocation waiting for admin approval: the certificate id.
    pub pending_revoke: Option<u64>,
    pub polls: u32,
}

impl Order {
    pub fn current(&self) -> Option<&CcCertificate> {
        self.certificates.last()
    }
}

#[derive(Default)]
pub struct OrderBook {
    pub orders: Vec<Order>,
    pub rate: RateBook,
    next_id: u64,
}

impl OrderBook {
    /// Fresh ids: orders, certificates, notes and requests share one counter, so no two
    /// kinds of thing are mistaken for each other in tests.
    pub fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        1_000_000 + self.next_id
    }

    pub fn order(&self, id: u64) -> Option<&Order> {
        self.orders.iter().find(|o| o.id == id)
    }

    pub fn order_mut(&mut self, id: u64) -> Option<&mut Order> {
        self.orders.iter_mut().find(|o| o.id == id)
    }

    /// The order holding certificate `id`.
    pub fn order_of_certificate(&self, id: u64) -> Option<&Order> {
        self.orders
            .iter()
            .find(|o| o.certificates.iter().any(|c| c.id == id))
    }

    pub fn order_of_certificate_mut(&mut self, id: u64) -> Option<&mut Order> {
        self.orders
            .iter_mut()
            .find(|o| o.certificates.iter().any(|c| c.id == id))
    }
}
