//! What goes into a service request and what comes back from a successful one.

use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::clients::error::ServiceError;

/// A successful (2xx) response.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(
        &self,
        service: &'static str,
        endpoint: &'static str,
    ) -> Result<T, ServiceError> {
        serde_json::from_slice(&self.body).map_err(|e| ServiceError::UnexpectedBody {
            service,
            endpoint,
            reason: e.to_string(),
        })
    }
}

/// One request, described so it can be sent again.
pub struct Call<'a, Q: Serialize + ?Sized> {
    pub endpoint: &'static str,
    pub method: Method,
    pub path: String,
    pub query: Option<&'a Q>,
    pub body: Option<Vec<u8>>,
    /// Safe to repeat after an ambiguous failure (the service may have acted on the first).
    pub idempotent: bool,
}

/// Serials and request IDs go into paths: refuse anything that is not a plain token.
pub fn path_segment(endpoint: &'static str, value: &str) -> Result<String, ServiceError> {
    let plain = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        Ok(value.to_string())
    } else {
        Err(ServiceError::Config(format!(
            "{endpoint}: {value:?} is not a valid identifier"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_plain_tokens() {
        assert!(path_segment("status", "0F6F55555658A989").is_ok());
        assert!(path_segment("status", "../admin").is_err());
        assert!(path_segment("status", "").is_err());
    }
}
