//! Certificate search: the query and one page of its answer.

use serde::{Deserialize, Deserializer, Serialize};

use super::CertificateRecord;
use super::lenient_u64;

/// Filters of `GET /mpki/api/v1/certificate-search`.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seat_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    /// `ISSUED | EXPIRED | REVOKED | SUSPENDED` (the spec's enum, upper case).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One page of search results: the spec's `{total, offset, limit, items}`. A bare array is
/// also read (as a last page), so an older tenant does not break recovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPage {
    pub items: Vec<CertificateRecord>,
    pub total: Option<u64>,
}

impl<'de> Deserialize<'de> for SearchPage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Envelope {
            items: Vec<CertificateRecord>,
            #[serde(default, deserialize_with = "lenient_u64")]
            total: Option<u64>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            List(Vec<CertificateRecord>),
            Envelope(Envelope),
        }
        Ok(match Shape::deserialize(deserializer)? {
            Shape::List(items) => SearchPage { items, total: None },
            Shape::Envelope(e) => SearchPage {
                items: e.items,
                total: e.total,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_page_reads_the_spec_envelope() {
        let page: SearchPage = serde_json::from_str(
            r#"{"total":3,"offset":0,"limit":2,"items":[{"serial_number":"01","certificate":"MII"},{"serial_number":"02"}]}"#,
        )
        .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.total, Some(3));
        let bare: SearchPage = serde_json::from_str(r#"[{"serial_number":"01"}]"#).unwrap();
        assert_eq!(bare.total, None);
        assert!(serde_json::from_str::<SearchPage>(r#"{"certificates":[]}"#).is_err());
    }
}
