//! TLM certificate search: one page, or every match up to a bound.

use reqwest::Method;

use super::TlmClient;
use crate::clients::error::ServiceError;
use crate::clients::tlm_types::{CertificateRecord, SearchPage, SearchQuery};

/// Search page size (the spec's default is 20; larger pages mean fewer round trips).
const SEARCH_PAGE: u32 = 100;
/// The most search results read for one question: recovery needs the few certificates of one
/// common name and profile, not the inventory.
pub const MAX_SEARCH_RESULTS: usize = 2_000;

/// Everything a search matched, up to [`MAX_SEARCH_RESULTS`].
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    pub items: Vec<CertificateRecord>,
    /// More matched than were read.
    pub truncated: bool,
}

impl TlmClient {
    /// `GET /mpki/api/v1/certificate-search`.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, ServiceError> {
        self.json(
            "search",
            Method::GET,
            "/mpki/api/v1/certificate-search".into(),
            Some(query),
            None::<&()>,
            true,
        )
        .await
    }

    /// Every match of a search, page by page (the spec documents no order, so the first page
    /// is not "the newest"). Stops at [`MAX_SEARCH_RESULTS`]; `truncated` says so.
    pub async fn search_all(&self, query: &SearchQuery) -> Result<SearchResults, ServiceError> {
        let mut results = SearchResults::default();
        loop {
            let offset = u32::try_from(results.items.len()).unwrap_or(u32::MAX);
            let page = self
                .search(&SearchQuery {
                    offset: Some(offset),
                    limit: Some(SEARCH_PAGE),
                    ..query.clone()
                })
                .await?;
            let (len, total) = (page.items.len(), page.total);
            results.items.extend(page.items);
            let seen = results.items.len() as u64;
            let done = len == 0 || total.is_none_or(|t| seen >= t);
            if done {
                return Ok(results);
            }
            if results.items.len() >= MAX_SEARCH_RESULTS {
                results.truncated = true;
                return Ok(results);
            }
        }
    }
}
