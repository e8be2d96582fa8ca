//! Signing an order's certificate with the sim's CA (no lock held while signing) and storing it.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::ca::{IssuedCertificate, LeafSpec, random_serial};
use crate::csr::KeyKind;
use crate::state::{AppState, lock};

use super::store::{CcCertificate, OrderStatus, Requested};

pub fn sign(state: &AppState, requested: &Requested) -> anyhow::Result<IssuedCertificate> {
    let lifetime = state
        .options
        .certcentral_leaf_lifetime
        .unwrap_or(requested.leaf.validity);
    let not_before = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let leaf = &requested.leaf;
    let issued = state.ca.issue(&LeafSpec {
        serial: &random_serial(),
        subject: &leaf.subject,
        sans: &leaf.sans,
        not_before,
        not_after: not_before + time::Duration::try_from(lifetime)?,
        public_key: &leaf.public_key,
        key_encipherment: matches!(leaf.key, KeyKind::Rsa { .. }),
    })?;
    // Publicly trusted certificates are logged: the simulated CT log sees this one too.
    crate::certspotter::feed::publish(state, Some(&requested.common_name), &requested.dns_names, &issued);
    Ok(issued)
}

/// Issues what order `id` waits for (its first certificate or a reissue) now. Returns the new
/// certificate id, or `None` when the order was not waiting for a certificate.
pub fn complete(state: &AppState, id: u64) -> anyhow::Result<Option<u64>> {
    let requested = {
        let book = lock(&state.certcentral_orders);
        let Some(order) = book.order(id) else {
            return Ok(None);
        };
        match order.status {
            OrderStatus::NeedsApproval | OrderStatus::Pending => order.requested.clone(),
            OrderStatus::ReissuePending => match &order.reissue {
                Some(reissue) => reissue.clone(),
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    };
    let issued = sign(state, &requested)?;
    let mut book = lock(&state.certcentral_orders);
    let certificate_id = book.fresh_id();
    let Some(order) = book.order_mut(id) else {
        return Ok(None);
    };
    if !matches!(
        order.status,
        OrderStatus::NeedsApproval | OrderStatus::Pending | OrderStatus::ReissuePending
    ) {
        // Someone else (an admin, a concurrent poll) settled it first.
        return Ok(None);
    }
    if let Some(reissue) = order.reissue.take() {
        order.requested = reissue;
    }
    order.certificates.push(CcCertificate {
        id: certificate_id,
        issued: Arc::new(issued),
        revoked: false,
        date_created: OffsetDateTime::now_utc(),
    });
    order.status = OrderStatus::Issued;
    for request in &mut order.requests {
        if request.status == "pending" {
            request.status = "approved";
        }
    }
    Ok(Some(certificate_id))
}
