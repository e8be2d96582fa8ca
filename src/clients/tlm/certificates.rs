//! TLM certificates: submit, status, extra formats, pickup, renew and revoke.

use reqwest::Method;

use super::TlmClient;
use crate::clients::error::ServiceError;
use crate::clients::service::path_segment;
use crate::clients::tlm_types::{
    AdditionalFormats, CertificateRecord, IdRef, IssueResponse, PickupRequest, RenewRequest,
    RevocationReason, RevokeRequest, SubmitRequest,
};

impl TlmClient {
    /// `POST /mpki/api/v1/certificate`. Not retried unless the service certainly did not act
    /// on it (429, connection refused): a blind retry could order a second certificate.
    pub async fn submit(&self, request: &SubmitRequest) -> Result<IssueResponse, ServiceError> {
        self.json(
            "submit",
            Method::POST,
            "/mpki/api/v1/certificate".into(),
            None::<&()>,
            Some(request),
            false,
        )
        .await
    }

    /// `GET /mpki/api/v1/certificate/{serial}`.
    pub async fn status(&self, serial: &str) -> Result<CertificateRecord, ServiceError> {
        let path = format!("/mpki/api/v1/certificate/{}", path_segment("status", serial)?);
        self.json("status", Method::GET, path, None::<&()>, None::<&()>, true)
            .await
    }

    /// `GET /mpki/api/v1/certificate/{serial}/additional-formats`.
    pub async fn additional_formats(&self, serial: &str) -> Result<AdditionalFormats, ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/additional-formats",
            path_segment("formats", serial)?
        );
        self.json("formats", Method::GET, path, None::<&()>, None::<&()>, true)
            .await
    }

    /// `POST /mpki/api/v1/certificate-pickup/{request_id}` with the profile in the body:
    /// asking again is safe.
    pub async fn pickup(&self, request_id: &str, profile_id: &str) -> Result<IssueResponse, ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate-pickup/{}",
            path_segment("pickup", request_id)?
        );
        let body = PickupRequest {
            profile: IdRef {
                id: profile_id.to_string(),
            },
        };
        self.json("pickup", Method::POST, path, None::<&()>, Some(&body), true)
            .await
    }

    /// `POST /mpki/api/v1/certificate/{serial}/renew`. Retried like submit. When TLM answers
    /// that the serial is shared by several certificates, asks again naming ours by
    /// `thumbprint_sha256` (a refused request ordered nothing).
    pub async fn renew(
        &self,
        serial: &str,
        thumbprint_sha256: Option<&str>,
        request: &RenewRequest,
    ) -> Result<IssueResponse, ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/renew",
            path_segment("renew", serial)?
        );
        match self
            .json(
                "renew",
                Method::POST,
                path.clone(),
                None::<&()>,
                Some(request),
                false,
            )
            .await
        {
            Err(e) if e.is_serial_collision() && thumbprint_sha256.is_some() => {
                let query = [("thumbprint_sha256", thumbprint_sha256.unwrap_or_default())];
                self.json("renew", Method::POST, path, Some(&query), Some(request), false)
                    .await
            }
            other => other,
        }
    }

    /// `PUT /mpki/api/v1/certificate/{serial}/revoke`, with `thumbprint_sha256` on a serial
    /// collision as for renew.
    pub async fn revoke(
        &self,
        serial: &str,
        thumbprint_sha256: Option<&str>,
        reason: RevocationReason,
    ) -> Result<(), ServiceError> {
        let path = format!(
            "/mpki/api/v1/certificate/{}/revoke",
            path_segment("revoke", serial)?
        );
        let body = RevokeRequest {
            revocation_reason: reason,
        };
        match self
            .send(
                "revoke",
                Method::PUT,
                path.clone(),
                None::<&()>,
                Some(&body),
                true,
            )
            .await
        {
            Err(e) if e.is_serial_collision() && thumbprint_sha256.is_some() => {
                let query = [("thumbprint_sha256", thumbprint_sha256.unwrap_or_default())];
                self.send("revoke", Method::PUT, path, Some(&query), Some(&body), true)
                    .await
                    .map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }
}
