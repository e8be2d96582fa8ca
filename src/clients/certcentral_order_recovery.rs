//! Crash recovery for CertCentral orders: find an order we already placed for a Certificate
//! (list by common name and status, newest first, paged within a budget; then match our audit
//! note or the CSR in the order's details) before ordering again.

use super::certcentral_order_types::{OrderInfo, OrderSummary};
use super::certcentral_orders::{CertCentralOrdersClient, OrderQuery, unexpected};
use super::error::ServiceError;

/// Orders per list page (the reference caps `limit` at 1,000).
const LIST_PAGE: u64 = 100;

/// How far a lookup may read: recovery needs a few orders of one name, not the inventory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListBudget {
    pub max_pages: usize,
    pub max_bytes: usize,
    pub max_orders: usize,
}

impl Default for ListBudget {
    fn default() -> Self {
        Self {
            max_pages: 10,
            max_bytes: 8 * 1024 * 1024,
            max_orders: 500,
        }
    }
}

/// The audit note on every order we place, naming who it is for; recovery matches the UID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderMarker {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl OrderMarker {
    pub fn note_text(&self) -> String {
        format!(
            "tlm-operator: cluster={} namespace={} certificate={} uid={}",
            self.cluster, self.namespace, self.name, self.uid
        )
    }

    /// The note names this Certificate (by UID: names can be reused, UIDs are not).
    pub fn is_in(&self, text: &str) -> bool {
        text.starts_with("tlm-operator:")
            && text
                .split_whitespace()
                .any(|part| part.strip_prefix("uid=") == Some(self.uid.as_str()))
    }
}

impl CertCentralOrdersClient {
    /// Every order matching `common_name` and `status`, newest first, read page by page until
    /// the list ends or `budget` is spent (then an `UnexpectedBody` error says so).
    pub async fn find_orders(
        &self,
        common_name: &str,
        status: Option<&str>,
        budget: ListBudget,
    ) -> Result<Vec<OrderSummary>, ServiceError> {
        let mut found = Vec::new();
        let mut bytes = 0usize;
        for page_number in 0..budget.max_pages {
            let query = OrderQuery {
                common_name: Some(common_name.to_string()),
                status: status.map(String::from),
                serial_number: None,
                newest_first: true,
                offset: (page_number as u64) * LIST_PAGE,
                limit: LIST_PAGE,
            };
            let (page, size) = self.list_orders(&query).await?;
            bytes = bytes.saturating_add(size);
            let count = page.orders.len() as u64;
            found.extend(page.orders);
            if bytes > budget.max_bytes || found.len() > budget.max_orders {
                return Err(unexpected(
                    "list_orders",
                    "the order list passed the lookup budget",
                ));
            }
            let total = page.page.total.unwrap_or(u64::MAX);
            if count < LIST_PAGE || query.offset + count >= total {
                return Ok(found);
            }
        }
        Err(unexpected(
            "list_orders",
            "the order list did not end within the page budget",
        ))
    }

    /// Crash recovery: an order of ours for `common_name` in one of `statuses` (newest first),
    /// recognised by our note or by its CSR. Reads at most `max_candidates` orders' details.
    pub async fn find_our_order(
        &self,
        common_name: &str,
        statuses: &[&str],
        marker: &OrderMarker,
        csr: Option<&str>,
        max_candidates: usize,
    ) -> Result<Option<OrderInfo>, ServiceError> {
        let mut candidates = Vec::new();
        for status in statuses {
            candidates.extend(
                self.find_orders(common_name, Some(status), ListBudget::default())
                    .await?,
            );
        }
        candidates.sort_by(|a, b| b.date_created.cmp(&a.date_created).then(b.id.cmp(&a.id)));
        candidates.dedup_by_key(|order| order.id);
        for summary in candidates.into_iter().take(max_candidates) {
            let info = self.order_info(summary.id).await?;
            let noted = info.notes.iter().any(|note| marker.is_in(&note.text));
            let same_csr = csr
                .zip(info.certificate.csr.as_deref())
                .is_some_and(|(a, b)| same_pem(a, b));
            if noted || same_csr {
                return Ok(Some(info));
            }
        }
        Ok(None)
    }
}

/// Two CSRs are the same request: equal base64 once armour and whitespace are gone.
pub fn same_pem(a: &str, b: &str) -> bool {
    let body = |text: &str| -> String {
        text.lines()
            .filter(|line| !line.starts_with("-----"))
            .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
            .collect()
    };
    let (a, b) = (body(a), body(b));
    !a.is_empty() && a == b
}
