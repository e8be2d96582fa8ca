//! Delivery: the chain completed by the backend, verified against our key and the spec, then written
//! to the Secret in one server-side apply. Nothing reaches the Secret before every check passed.

use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

use super::failure::{fail, on_service_error};
use super::{backend_for, key_in, next_private_key, secret_text, secrets};
use crate::backend::{Backend, ChainOutcome};
use crate::certificate::observe::{IssuerRefd, Observation};
use crate::certificate::observed::TargetSecret;
use crate::certificate::secret::target_secret;
use crate::certificate::spec::DesiredNames;
use crate::certificate::{Flow, ReconcileError};
use crate::context::Context;
use crate::crash;
use crate::labels::{FIELD_MANAGER, SERIAL_NUMBER};
use crate::pki::{CertDer, LeafInfo, PrivateKey, certs_from_pem, order_chain, verify_chain};

/// Fetches the chain, verifies it against our key and the spec, and writes the Secret.
pub(super) async fn complete(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    backend: &Backend,
    serial: &str,
    delivered: Option<String>,
) -> Result<Flow, ReconcileError> {
    let key = next_private_key(obs)?;
    let service = backend.service();
    let certs = match backend
        .complete_chain(serial, delivered.as_deref(), &key.spki_der())
        .await
    {
        Ok(ChainOutcome::Certs(certs)) => certs,
        Ok(ChainOutcome::Unusable { reason, message }) => return fail(ctx, obs, reason, message).await,
        Err(e) => return on_service_error(ctx, obs, issuer, e).await,
    };
    let chain = match order_chain(&certs, Some(&key.spki_der())) {
        Ok(chain) => chain,
        Err(e) => {
            return fail(
                ctx,
                obs,
                "KeyMismatch",
                format!("issued certificate {serial} is unusable: {e}"),
            )
            .await;
        }
    };
    if let Err(e) = verify_chain(&chain) {
        return fail(
            ctx,
            obs,
            "InvalidChain",
            format!("chain of certificate {serial} does not verify: {e}"),
        )
        .await;
    }
    let leaf = match LeafInfo::parse(&chain[0]) {
        Ok(leaf) => leaf,
        Err(e) => return fail(ctx, obs, "InvalidCertificate", e.to_string()).await,
    };
    if let Some(why) = DesiredNames::of(&obs.cert.spec).mismatch(&leaf) {
        return fail(
            ctx,
            obs,
            "CertificateMismatch",
            format!("{service} issued certificate {serial} whose {why}"),
        )
        .await;
    }
    write_secret(ctx, obs, &key, &chain, &leaf).await?;
    backend.chain_delivered(&chain);
    ctx.memory.update(&obs.uid(), |m| {
        m.maybe_submitted = false;
        m.delivered = None;
    });
    tracing::info!(certificate = %obs.cert.name_any(), serial = %leaf.serial_hex, "certificate written to Secret");
    crash::point("after-secret");
    Ok(Flow::Continue)
}

/// Rewrites the Secret from its own key and certificate (labels, annotations, extra formats).
pub async fn repair_secret(
    ctx: &Context,
    obs: &mut Observation,
    issuer: Result<&IssuerRefd, &crate::certificate::observed::IssuerView>,
) -> Result<Flow, ReconcileError> {
    let Some(secret) = obs.secret.clone() else {
        return Ok(Flow::Continue);
    };
    let text = |k: &str| secret_text(Some(&secret), k);
    let key = key_in(Some(&secret))?;
    let mut certs = certs_from_pem(&text("tls.crt")).map_err(ReconcileError::Pki)?;
    match certs_from_pem(&text("ca.crt")) {
        Ok(ca) => certs.extend(ca),
        Err(_) => {
            // ca.crt is gone: the root comes from the backend.
            let Ok(issuer) = issuer else {
                return Ok(Flow::Requeue(Duration::from_secs(300)));
            };
            let serial = TargetSecret::parse(&secret)
                .annotation(SERIAL_NUMBER)
                .map(str::to_string)
                .unwrap_or_default();
            let backend = backend_for(ctx, issuer).await?;
            match backend.fetch_chain(&serial).await {
                Ok(found) => certs.extend(found),
                Err(e) => return on_service_error(ctx, obs, issuer, e).await,
            }
        }
    }
    let mut unique: Vec<CertDer> = Vec::new();
    for c in certs {
        if !unique.contains(&c) {
            unique.push(c);
        }
    }
    let chain = order_chain(&unique, Some(&key.spki_der())).map_err(ReconcileError::Pki)?;
    verify_chain(&chain).map_err(ReconcileError::Pki)?;
    let leaf = LeafInfo::parse(&chain[0]).map_err(ReconcileError::Pki)?;
    write_secret(ctx, obs, &key, &chain, &leaf).await?;
    Ok(Flow::Continue)
}

/// The one write of the Secret: key, chain, extra formats and annotations in one apply.
async fn write_secret(
    ctx: &Context,
    obs: &mut Observation,
    key: &PrivateKey,
    chain: &[CertDer],
    leaf: &LeafInfo,
) -> Result<(), ReconcileError> {
    let desired = target_secret(&obs.cert, key, chain, leaf).map_err(ReconcileError::Pki)?;
    let applied = secrets(ctx, obs)
        .patch(
            &obs.cert.spec.secret_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&desired),
        )
        .await?;
    obs.secret = Some(applied);
    Ok(())
}
