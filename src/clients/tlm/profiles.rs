//! TLM profiles: the whole list, paged and bounded, and one profile by id.

use reqwest::Method;

use super::{SERVICE, TlmClient};
use crate::clients::error::ServiceError;
use crate::clients::service::path_segment;
use crate::clients::tlm_types::Profile;

/// Page size used when listing profiles.
const PROFILE_PAGE: usize = 50;
/// Safety stop for a service that never returns a short page.
const MAX_PROFILE_PAGES: usize = 200;
/// The most bytes read for one profile list, over all its pages (each page is already capped at
/// 4 MiB; 200 of them would not fit the operator's memory limit).
const MAX_PROFILE_LIST_BYTES: usize = 16 * 1024 * 1024;

impl TlmClient {
    /// Every profile of the account (`GET /mpki/api/v2/profile`, paged until exhausted).
    pub async fn list_profiles(&self) -> Result<Vec<Profile>, ServiceError> {
        self.list_profiles_paged(PROFILE_PAGE).await
    }

    /// Like [`Self::list_profiles`] with a chosen page size.
    pub async fn list_profiles_paged(&self, page_size: usize) -> Result<Vec<Profile>, ServiceError> {
        let page_size = page_size.max(1);
        let mut all = Vec::new();
        let mut bytes = 0usize;
        for _ in 0..MAX_PROFILE_PAGES {
            let query = [("offset", all.len()), ("limit", page_size)];
            let answer = self
                .send(
                    "profiles",
                    Method::GET,
                    "/mpki/api/v2/profile".into(),
                    Some(&query),
                    None::<&()>,
                    true,
                )
                .await?;
            bytes = bytes.saturating_add(answer.body.len());
            if bytes > MAX_PROFILE_LIST_BYTES {
                return Err(ServiceError::UnexpectedBody {
                    service: SERVICE,
                    endpoint: "profiles",
                    reason: format!("the profile list passed {MAX_PROFILE_LIST_BYTES} bytes"),
                });
            }
            let page: Vec<Profile> = answer.json(SERVICE, "profiles")?;
            let len = page.len();
            all.extend(page);
            if len < page_size {
                return Ok(all);
            }
        }
        Err(ServiceError::UnexpectedBody {
            service: SERVICE,
            endpoint: "profiles",
            reason: "the profile list never ends".into(),
        })
    }

    /// One profile: `GET /mpki/api/v2/profile/{id}`, as DigiCert's clients read it. A tenant
    /// without that route (404/405) is asked for the list instead.
    pub async fn profile(&self, id: &str) -> Result<Profile, ServiceError> {
        let path = format!("/mpki/api/v2/profile/{}", path_segment("profile", id)?);
        match self
            .json::<Profile, (), ()>("profile", Method::GET, path, None, None, true)
            .await
        {
            Ok(profile) => Ok(profile),
            Err(e) if matches!(e.status(), Some(404 | 405)) => {
                tracing::debug!(error = %e, "profile by id unavailable; reading the profile list");
                self.list_profiles()
                    .await?
                    .into_iter()
                    .find(|p| p.id == id)
                    .ok_or(e)
            }
            Err(e) => Err(e),
        }
    }
}
