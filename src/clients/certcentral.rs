//! DigiCert CertCentral Services API v2: the CT monitor's certificate download, used as
//! evidence for unexpected issuances (`docs/tlm-wire.md`, CT monitor section).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::Quota;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::RequestObserver;
use super::error::ServiceError;
use super::http::HttpSettings;
use super::retry::RetryPolicy;
use super::service::{Call, ServiceClient, path_segment};
use super::throttle::Throttle;

const SERVICE: &str = "CertCentral";

/// Below the published 100 requests per 5 s and 1,000 per 3 min per key (429s carry no
/// promise of `Retry-After`, so staying under is the only reliable way).
pub fn certcentral_quota() -> Quota {
    Quota::with_period(Duration::from_millis(200))
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(50).expect("non-zero"))
}

/// The CT monitor's spelling of a serial number: lower-case hex without leading zeros or colons,
/// as in DigiCert's published examples (TLM and certificates print it upper case, zero-padded).
pub fn ct_monitor_serial(serial_hex: &str) -> String {
    let lower: String = serial_hex
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match lower.trim_start_matches('0') {
        "" => "0".into(),
        trimmed => trimmed.into(),
    }
}

/// The CT monitor's `issuer` parameter: the issuing CA's common name ("RapidSSL RSA CA 2018"),
/// not its full DN. Takes an RFC 2253-style DN such as Cert Spotter reports.
pub fn ct_monitor_issuer(issuer_dn: &str) -> Option<String> {
    issuer_dn
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("CN"))
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[derive(Deserialize)]
struct PemBody {
    pem: String,
}

#[derive(Clone, Debug)]
pub struct CertCentralClient {
    service: ServiceClient,
}

impl CertCentralClient {
    pub fn new(
        base_url: &str,
        api_key: &SecretString,
        http: &HttpSettings,
        observer: Arc<dyn RequestObserver>,
    ) -> Result<Self, ServiceError> {
        let throttle = Arc::new(Throttle::with_quota(certcentral_quota(), 4));
        let service = ServiceClient::new(
            SERVICE,
            base_url,
            Some(("x-dc-devkey", api_key.expose_secret())),
            http,
            throttle,
            RetryPolicy::default(),
            observer,
        )?;
        Ok(Self { service })
    }

    /// `GET /services/v2/ctmonitor/{order_id}/ct-cert/{serial}/?issuer=...`: the PEM.
    pub async fn ct_cert_pem(
        &self,
        order_id: &str,
        serial: &str,
        issuer: &str,
    ) -> Result<String, ServiceError> {
        let path = format!(
            "/services/v2/ctmonitor/{}/ct-cert/{}/",
            path_segment("ctmonitor", order_id)?,
            path_segment("ctmonitor", serial)?
        );
        let query = [("issuer", issuer)];
        let answer = self
            .service
            .send(Call {
                endpoint: "ctmonitor",
                method: Method::GET,
                path,
                query: Some(&query),
                body: None,
                idempotent: true,
            })
            .await?;
        Ok(answer.json::<PemBody>(SERVICE, "ctmonitor")?.pem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_and_issuer_in_the_ct_monitor_spelling() {
        assert_eq!(ct_monitor_serial("05AC45B0849E"), "5ac45b0849e");
        assert_eq!(ct_monitor_serial("00:8F:01"), "8f01");
        assert_eq!(ct_monitor_serial("00"), "0");
        assert_eq!(
            ct_monitor_issuer("C=US, O=DigiCert Inc, CN=RapidSSL RSA CA 2018").as_deref(),
            Some("RapidSSL RSA CA 2018")
        );
        assert_eq!(ct_monitor_issuer("O=No Common Name"), None);
    }
}
