//! Reading one group's new issuances from its source, within bounds. A source is chosen by
//! whoever creates a CTWatch, so every paged sequence is capped in items and bytes: a source
//! that never ends, or returns huge pages, costs a bounded amount of memory per cycle. What a
//! cap leaves unread is read by the next cycle, which is scheduled at once.

use std::collections::BTreeMap;

use super::cycle_error::CycleError;
use super::plan::{GroupKey, batches, start_after};
use super::wait::ServiceWait;
use crate::api::CTWatch;
use crate::clients::certspotter::{CertSpotterClient, Issuance, IssuanceId, IssuanceQuery, id_order};

/// Issuances one batch may read in one cycle (ten pages of Cert Spotter's 100).
pub const MAX_ITEMS_PER_BATCH: usize = 1000;
/// Approximate bytes of issuances one batch may read in one cycle.
pub const MAX_BYTES_PER_BATCH: usize = 8 * 1024 * 1024;

/// What a cycle collected for a group.
pub struct Collected {
    /// Issuances returned, by id, ascending; none past `limit`.
    pub issuances: BTreeMap<IssuanceId, Issuance>,
    /// Every batch was read up to here: the group's new cursor.
    pub end: Option<String>,
    /// The longest `Retry-After` of an empty page, clamped.
    pub retry_after: ServiceWait,
    /// A cap stopped a batch: more is waiting.
    pub truncated: bool,
    /// The smallest point where a cap stopped a batch: nothing past it can be judged in this
    /// cycle, so nothing past it is kept.
    limit: Option<String>,
}

impl Collected {
    /// One page of a single-batch group, committed on its own: `end` is the page's last id;
    /// `more` when paging continues after it.
    pub fn page(
        issuances: BTreeMap<IssuanceId, Issuance>,
        end: Option<String>,
        more: bool,
        retry_after: ServiceWait,
    ) -> Self {
        Self {
            issuances,
            end,
            retry_after,
            truncated: more,
            limit: None,
        }
    }

    fn within_limit(&self, id: &str) -> bool {
        self.limit.as_deref().is_none_or(|l| id_order(id, l).is_le())
    }

    fn limit_to(&mut self, stop: &str) {
        if self.within_limit(stop) {
            self.limit = Some(stop.to_string());
            self.issuances.retain(|id, _| id_order(&id.0, stop).is_le());
        }
    }
}

struct BatchRead {
    end: Option<String>,
    capped: bool,
}

/// Reads every batch to its end (or a cap). Batches that ended before the furthest one are
/// read once more from their end: an issuance discovered while the cycle ran must not fall
/// between a batch's end and the cursor the cycle records. An empty re-read proves the batch
/// has nothing up to the furthest end.
pub async fn collect(
    client: &CertSpotterClient,
    key: &GroupKey,
    members: &[&CTWatch],
) -> Result<Collected, CycleError> {
    let start = start_after(members);
    let mut collected = Collected {
        issuances: BTreeMap::new(),
        end: start.clone(),
        retry_after: ServiceWait::default(),
        truncated: false,
        limit: None,
    };
    let mut reads: Vec<(Vec<String>, BatchRead)> = Vec::new();
    for domains in batches(members) {
        let read = read_batch(client, key, &domains, start.clone(), &mut collected).await?;
        reads.push((domains, read));
    }
    for _ in 0..3 {
        let furthest = reads
            .iter()
            .filter_map(|(_, r)| r.end.clone())
            .max_by(|a, b| id_order(a, b));
        let mut lagging = false;
        for (domains, read) in reads.iter_mut() {
            if read.capped || read.end == furthest {
                continue;
            }
            lagging = true;
            let reread = read_batch(client, key, domains, read.end.clone(), &mut collected).await?;
            read.capped = reread.capped;
            read.end = if reread.capped {
                reread.end
            } else {
                [reread.end, furthest.clone()]
                    .into_iter()
                    .flatten()
                    .max_by(|a, b| id_order(a, b))
            };
        }
        if !lagging {
            break;
        }
    }
    collected.truncated = reads.iter().any(|(_, r)| r.capped);
    collected.end = reads
        .iter()
        .filter_map(|(_, r)| r.end.clone())
        .min_by(|a, b| id_order(a, b))
        .or(start);
    Ok(collected)
}

/// A single-batch group's pages, one at a time, within the same caps as [`collect`]; the
/// caller commits each page before asking for the next, so nothing is held across pages.
pub struct PageReader {
    domains: Vec<String>,
    after: Option<String>,
    items: usize,
    bytes: usize,
}

impl PageReader {
    /// None when the group needs more than one batch (its cursor can only move once every
    /// batch has been read past a point).
    pub fn single_batch(members: &[&CTWatch]) -> Option<Self> {
        let mut all = batches(members);
        if all.len() != 1 {
            return None;
        }
        Some(Self {
            domains: all.pop().unwrap_or_default(),
            after: start_after(members),
            items: 0,
            bytes: 0,
        })
    }

    /// The next page as a committable chunk; `truncated` (more to read) on every non-empty
    /// page and when a cap ends the cycle. None when paging is over.
    pub async fn next(
        &mut self,
        client: &CertSpotterClient,
        key: &GroupKey,
    ) -> Result<Option<Collected>, CycleError> {
        if self.items >= MAX_ITEMS_PER_BATCH || self.bytes >= MAX_BYTES_PER_BATCH {
            return Ok(None);
        }
        let page = read_page(client, key, &self.domains, self.after.clone()).await?;
        let Some(last) = last_id(&page.issuances) else {
            let wait = ServiceWait::clamp(page.retry_after);
            return Ok(Some(Collected::page(
                BTreeMap::new(),
                self.after.clone(),
                false,
                wait,
            )));
        };
        check_advances(self.after.as_deref(), &last)?;
        let mut issuances = BTreeMap::new();
        for issuance in page.issuances {
            self.items += 1;
            self.bytes += approximate_size(&issuance);
            issuances.insert(IssuanceId(issuance.id.clone()), issuance);
        }
        self.after = Some(last);
        Ok(Some(Collected::page(
            issuances,
            self.after.clone(),
            true,
            ServiceWait::default(),
        )))
    }
}

async fn read_page(
    client: &CertSpotterClient,
    key: &GroupKey,
    domains: &[String],
    after: Option<String>,
) -> Result<crate::clients::certspotter::IssuancePage, CycleError> {
    let query = IssuanceQuery {
        domains: domains.to_vec(),
        include_subdomains: key.include_subdomains,
        match_wildcards: key.match_wildcards,
        expand_cert: key.expand_cert,
        after,
    };
    client
        .issuances(&query)
        .await
        .map_err(|e| CycleError::from_service(&e))
}

fn last_id(issuances: &[Issuance]) -> Option<String> {
    issuances
        .iter()
        .map(|i| i.id.clone())
        .max_by(|a, b| id_order(a, b))
}

/// Paging must move forward; a source that repeats a page would be read forever.
fn check_advances(after: Option<&str>, last: &str) -> Result<(), CycleError> {
    if after.is_some_and(|a| id_order(last, a).is_le()) {
        return Err(CycleError::new(
            "UnexpectedResponse",
            "the source answered a page that does not advance past `after`".into(),
        ));
    }
    Ok(())
}

async fn read_batch(
    client: &CertSpotterClient,
    key: &GroupKey,
    domains: &[String],
    mut after: Option<String>,
    collected: &mut Collected,
) -> Result<BatchRead, CycleError> {
    let (mut items, mut bytes) = (0usize, 0usize);
    loop {
        if items >= MAX_ITEMS_PER_BATCH || bytes >= MAX_BYTES_PER_BATCH {
            if let Some(stop) = &after {
                collected.limit_to(stop);
            }
            return Ok(BatchRead {
                end: after,
                capped: true,
            });
        }
        let page = read_page(client, key, domains, after.clone()).await?;
        let Some(last) = last_id(&page.issuances) else {
            collected.retry_after = collected.retry_after.max(ServiceWait::clamp(page.retry_after));
            return Ok(BatchRead {
                end: after,
                capped: false,
            });
        };
        check_advances(after.as_deref(), &last)?;
        for issuance in page.issuances {
            items += 1;
            bytes += approximate_size(&issuance);
            if collected.within_limit(&issuance.id) {
                collected
                    .issuances
                    .insert(IssuanceId(issuance.id.clone()), issuance);
            }
        }
        after = Some(last);
    }
}

/// Bytes an issuance holds, roughly: its strings plus a fixed overhead.
fn approximate_size(issuance: &Issuance) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let issuer = issuance
        .issuer
        .as_ref()
        .map_or(0, |i| opt(&i.name) + opt(&i.pubkey_sha256));
    let cert = issuance
        .cert
        .as_ref()
        .map_or(0, |c| opt(&c.data) + opt(&c.sha256) + opt(&c.kind));
    let names: usize = issuance.dns_names.iter().map(|n| n.len() + 24).sum();
    128 + issuance.id.len()
        + opt(&issuance.tbs_sha256)
        + opt(&issuance.pubkey_sha256)
        + opt(&issuance.not_before)
        + opt(&issuance.not_after)
        + issuer
        + cert
        + names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_must_advance_and_the_last_id_is_the_largest() {
        assert!(check_advances(None, "1").is_ok());
        assert!(check_advances(Some("9"), "10").is_ok());
        assert!(check_advances(Some("10"), "10").is_err(), "a repeated page");
        assert!(check_advances(Some("10"), "9").is_err(), "a page going back");
        let page = [
            Issuance {
                id: "100".into(),
                ..Default::default()
            },
            Issuance {
                id: "99".into(),
                ..Default::default()
            },
        ];
        assert_eq!(last_id(&page).as_deref(), Some("100"));
        assert_eq!(last_id(&[]), None);
    }
}
