//! Completing a TLM certificate's chain. A submit with `include_ca_chain` delivers the leaf and
//! its intermediates but not the root `ca.crt` needs: the first issuance through an
//! intermediate asks `additional-formats`, later ones reuse the Issuer's learned roots
//! (`backend::chain_roots`) and cost one TLM request instead of two.

use crate::backend::ChainOutcome;
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm_types::AdditionalFormats;
use crate::pki::{CertDer, certs_from_chain_answer, certs_from_delivery};

use super::TlmBackend;

impl TlmBackend {
    /// The certificates for `serial`'s chain: what was delivered, completed by a learned root
    /// or else by `additional-formats`.
    pub async fn complete_chain(
        &self,
        serial: &str,
        delivered: Option<&str>,
        leaf_spki: &[u8],
    ) -> Result<ChainOutcome, ServiceError> {
        let delivered_certs = delivered.map(certs_from_delivery);
        if let Some(Ok(found)) = &delivered_certs
            && let Some(chain) = self.roots.complete(&self.issuer, found, leaf_spki)
        {
            return Ok(ChainOutcome::Certs(chain));
        }
        let mut certs = match self.client.additional_formats(serial).await {
            Ok(formats) => match chain_of(&formats) {
                Ok(found) => found,
                Err(why) => {
                    return Ok(ChainOutcome::Unusable {
                        reason: "InvalidChain",
                        message: format!("TLM returned {why}"),
                    });
                }
            },
            // Without the extra formats the delivered certificate may still carry the chain.
            Err(e)
                if delivered.is_some() && !matches!(e.class(), ErrorClass::Transient | ErrorClass::Auth) =>
            {
                tracing::warn!(error = %e, "additional formats unavailable; using the delivered certificate");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        match delivered_certs {
            Some(Ok(found)) => certs.extend(
                found
                    .into_iter()
                    .filter(|c| !certs.contains(c))
                    .collect::<Vec<_>>(),
            ),
            Some(Err(e)) if certs.is_empty() => {
                return Ok(ChainOutcome::Unusable {
                    reason: "InvalidCertificate",
                    message: format!("TLM delivered an unreadable certificate: {e}"),
                });
            }
            _ => {}
        }
        Ok(ChainOutcome::Certs(certs))
    }

    /// The CA certificates TLM holds for `serial` (empty when its answer is unreadable).
    pub async fn fetch_chain(&self, serial: &str) -> Result<Vec<CertDer>, ServiceError> {
        let formats = self.client.additional_formats(serial).await?;
        Ok(chain_of(&formats).unwrap_or_default())
    }

    /// A verified chain was delivered: remember its roots for the next issuance.
    pub fn chain_delivered(&self, chain: &[CertDer]) {
        self.roots.learn(&self.issuer, chain);
    }
}

/// The certificates of an additional-formats answer: the x509 chain, else the PKCS#7.
fn chain_of(formats: &AdditionalFormats) -> Result<Vec<CertDer>, String> {
    certs_from_chain_answer(
        formats.x509_cert_chain.iter().map(|e| e.cert_blob.as_str()),
        formats.pkcs7.as_deref(),
    )
}
