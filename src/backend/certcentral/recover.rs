//! Crash recovery: after a restart (or a lost answer) an order may already exist for our key.
//! CertCentral lists pending orders too, so no in-flight record is needed: list the orders for
//! our common name (`filters[common_name]`, `filters[status]` pending, reissue_pending and
//! issued, `sort=-date_created`, paged), read the newest few, and take one whose audit note
//! names our Certificate's UID or whose CSR carries our key. An issued one counts only if its
//! certificate carries our key (an older certificate of the same Certificate does not).

use crate::backend::{FoundOrder, KeySearch};
use crate::clients::certcentral_order_recovery::ListBudget;
use crate::clients::certcentral_order_types::OrderOutcome as CcOutcome;
use crate::clients::error::ServiceError;
use crate::pki::{LeafInfo, certs_from_delivery, csr_spki_sha256_hex, spki_sha256_hex};

use super::CertCentralBackend;

/// The statuses an order of ours may be in before delivery (`pending` includes
/// `needs_approval` in the sim; unverified for DigiCert, see docs/certcentral-wire.md).
const STATUSES: [&str; 3] = ["pending", "reissue_pending", "issued"];
/// Orders whose details are read, newest first.
const MAX_CANDIDATES: usize = 10;

impl CertCentralBackend {
    pub async fn find_order(&self, search: &KeySearch<'_>) -> Result<Option<FoundOrder>, ServiceError> {
        let Some(common_name) = search.spec.request_common_name() else {
            return Ok(None);
        };
        let marker = self.spec.marker(search.owner);
        let wanted = search.key.spki_sha256_hex();
        let mut candidates = Vec::new();
        for status in STATUSES {
            candidates.extend(
                self.client
                    .find_orders(&common_name, Some(status), ListBudget::default())
                    .await?,
            );
        }
        candidates.sort_by(|a, b| b.date_created.cmp(&a.date_created).then(b.id.cmp(&a.id)));
        candidates.dedup_by_key(|order| order.id);
        for summary in candidates.into_iter().take(MAX_CANDIDATES) {
            let info = self.client.order_info(summary.id).await?;
            let noted = info.notes.iter().any(|note| marker.is_in(&note.text));
            let csr_key = info
                .certificate
                .csr
                .as_deref()
                .and_then(|csr| csr_spki_sha256_hex(csr).ok());
            if !noted && csr_key.as_deref() != Some(wanted.as_str()) {
                continue;
            }
            match info.outcome() {
                CcOutcome::Issued => {
                    let (serial, certificate) = self.download(info.certificate.id, info.id).await?;
                    let ours = certs_from_delivery(&certificate)
                        .ok()
                        .and_then(|certs| certs.first().and_then(|der| LeafInfo::parse(der).ok()))
                        .is_some_and(|leaf| {
                            spki_sha256_hex(&leaf.spki_der) == wanted
                                && search.issued_after.is_none_or(|t| leaf.not_before > t)
                        });
                    if ours {
                        return Ok(Some(FoundOrder::Issued { serial, certificate }));
                    }
                }
                // Pending with another key: an older attempt's order, not this key's.
                CcOutcome::AwaitingApproval | CcOutcome::AwaitingValidation
                    if csr_key.as_deref().is_none_or(|k| k == wanted) =>
                {
                    return Ok(Some(FoundOrder::Pending {
                        request_id: info.id.to_string(),
                    }));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}
