//! `revokeOnDelete`: revoke the Certificate's current certificate in its backend before letting the
//! Certificate go — but only a certificate that carries this Certificate's key. The serial in
//! status is just a record (anyone allowed to write the status could point it at someone
//! else's certificate); the private key in the Certificate's Secret is the proof.

use kube::api::Api;
use kube::{Resource, ResourceExt};

use super::ReconcileError;
use super::observe::IssuerRefd;
use super::observed::TargetSecret;
use crate::api::Certificate;
use crate::backend::CertState;
use crate::clients::error::ErrorClass;
use crate::context::Context;
use crate::pki::{LeafInfo, certs_from_delivery, spki_sha256_hex};

/// Revokes (TLM: reason `cessation_of_operation`) the certificate named in status if the
/// backend's copy of it carries the key in the Certificate's Secret. If the backend cannot be
/// reached the deletion waits;
/// removing the finalizer by hand skips the revocation.
pub async fn revoke_current(
    cert: &Certificate,
    ctx: &Context,
    issuer: &IssuerRefd,
) -> Result<(), ReconcileError> {
    let status = cert.status.clone().unwrap_or_default();
    let Some(serial) = status.serial_number else {
        return Ok(());
    };
    let backend = super::steps::backend_of(ctx, issuer).await?;
    let service = backend.service();
    if !backend.looks_up_serials() {
        note(ctx, cert, true, "RevocationUnsupported", format!("Certificate {serial} was not revoked: {service} offers no revocation; revoke it where the certificate was ordered")).await;
        return Ok(());
    }
    let Some(our_key) = key_in_secret(ctx, cert).await? else {
        note(ctx, cert, true, "RevocationSkipped", format!("Certificate {serial} was not revoked: the Secret holding this Certificate's key is gone, so nothing proves the certificate is this Certificate's")).await;
        return Ok(());
    };
    let record = match backend.certificate(&serial).await {
        Ok(record) => record,
        Err(e) if e.class() == ErrorClass::NotFound => return Ok(()),
        Err(e) => return Err(ReconcileError::Service(e)),
    };
    if record.state != CertState::Issued {
        tracing::info!(%serial, state = record.state.name(), "nothing to revoke");
        return Ok(());
    }
    let carries_our_key = record
        .certificate
        .as_deref()
        .and_then(|text| certs_from_delivery(text).ok())
        .and_then(|certs| certs.first().and_then(|der| LeafInfo::parse(der).ok()))
        .is_some_and(|leaf| spki_sha256_hex(&leaf.spki_der) == our_key);
    if !carries_our_key {
        note(
            ctx,
            cert,
            true,
            "RevocationSkipped",
            format!(
                "Certificate {serial} was not revoked: {service}'s copy does not carry this Certificate's key"
            ),
        )
        .await;
        return Ok(());
    }
    match backend.revoke(&serial, status.thumbprint.as_deref()).await {
        Ok(()) => {
            note(
                ctx,
                cert,
                false,
                "Revoked",
                format!("Revoked certificate {serial} in {service} (cessation_of_operation)"),
            )
            .await;
            Ok(())
        }
        // Already revoked or unknown to the service: nothing left to revoke.
        Err(e) if matches!(e.status(), Some(400) | Some(404) | Some(409)) => {
            tracing::info!(%serial, error = %e, "certificate already revoked or unknown");
            Ok(())
        }
        Err(e) => Err(ReconcileError::Service(e)),
    }
}

/// SHA-256 of the public key of the private key in the Certificate's Secret, if it holds one.
async fn key_in_secret(ctx: &Context, cert: &Certificate) -> Result<Option<String>, kube::Error> {
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(ctx.client.clone(), &cert.namespace().unwrap_or_default());
    let secret = secrets.get_opt(&cert.spec.secret_name).await?;
    Ok(secret
        .map(|s| TargetSecret::parse(&s))
        .and_then(|t| t.key.ok())
        .map(|k| k.spki_sha256))
}

async fn note(ctx: &Context, cert: &Certificate, warning: bool, reason: &str, note: String) {
    ctx.publish_event(&cert.object_ref(&()), warning, "Revoke", reason, note)
        .await;
}
