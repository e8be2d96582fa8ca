//! `offset`/`limit` paging and query-string pairs shared by the TLM list endpoints.

use crate::errors::ApiError;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

pub fn parse_page(pairs: &[(String, String)]) -> Result<Page, ApiError> {
    let mut page = Page {
        offset: 0,
        limit: DEFAULT_LIMIT,
    };
    for (key, value) in pairs {
        let number = || {
            value
                .trim()
                .parse::<usize>()
                .map_err(|_| ApiError::invalid_field(key.clone(), format!("{key} must be a number")))
        };
        match key.as_str() {
            "offset" => page.offset = number()?,
            "limit" => page.limit = number()?.clamp(1, MAX_LIMIT),
            _ => {}
        }
    }
    Ok(page)
}

pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}
