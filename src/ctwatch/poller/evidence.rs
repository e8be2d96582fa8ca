//! Evidence for an unexpected issuance: the logged certificate's SHA-256 from CertCentral's CT
//! monitor, and the Secrets (credentials) the poller reads.

use super::*;

impl Running {
    /// For an unexpected issuance from the configured issuer: download the logged certificate
    /// from CertCentral's CT monitor and return its SHA-256. Failures only log.
    pub(super) async fn evidence(&self, watch: &CTWatch, issuance: &Issuance) -> Option<String> {
        let spec = watch.spec.digicert_evidence.as_ref()?;
        let issuer = issuance.issuer.as_ref()?.name.clone()?;
        if !issuer
            .to_ascii_lowercase()
            .contains(&spec.issuer_contains.to_ascii_lowercase())
        {
            return None;
        }
        let serial = crate::clients::certcentral::ct_monitor_serial(&serial_of(issuance)?);
        let issuer = crate::clients::certcentral::ct_monitor_issuer(&issuer)?;
        let ns = watch.namespace().unwrap_or_default();
        let fetched = async {
            let key = read_secret(
                &self.poller.client,
                &ns,
                &spec.api_key_secret_ref.name,
                &spec.api_key_secret_ref.key,
            )
            .await
            .map_err(|e| e.message)?;
            let http = HttpSettings {
                ca_bundle: spec.ca_bundle.clone(),
                ..self.poller.config.http.clone()
            };
            let client = CertCentralClient::new(&spec.url, &key, &http, self.poller.metrics.clone())
                .map_err(|e| e.to_string())?;
            let pem = client
                .ct_cert_pem(&spec.order_id, &serial, &issuer)
                .await
                .map_err(|e| e.to_string())?;
            let der = certs_from_pem(&pem).map_err(|e| e.to_string())?;
            Ok::<String, String>(sha256_hex(&der[0]))
        };
        match fetched.await {
            Ok(hash) => Some(hash),
            Err(e) => {
                tracing::warn!(watch = %watch.name_any(), id = %issuance.id, error = %e, "evidence download failed");
                None
            }
        }
    }
}

/// Serial number (upper-case hex) of the issuance's certificate, when it was expanded.
pub(super) fn serial_of(issuance: &Issuance) -> Option<String> {
    let data = issuance.cert.as_ref()?.data.as_ref()?;
    let der = base64::engine::general_purpose::STANDARD.decode(data).ok()?;
    crate::pki::LeafInfo::parse(&der).ok().map(|leaf| leaf.serial_hex)
}

pub(super) async fn read_secret(
    client: &kube::Client,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<SecretString, CycleError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let not_found = |what: String| CycleError::new("TokenSecretNotFound", what);
    let secret = api
        .get_opt(name)
        .await
        .map_err(|e| CycleError::new("TokenSecretUnreadable", format!("Secret {ns}/{name}: {e}")))?
        .ok_or_else(|| not_found(format!("Secret {ns}/{name} not found")))?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|ByteString(b)| String::from_utf8_lossy(b).trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| not_found(format!("Secret {ns}/{name} has no key {key:?}")))?;
    Ok(SecretString::from(value))
}
