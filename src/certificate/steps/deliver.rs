//! Delivery: the chain completed from TLM, verified against our key and the spec, then written
//! to the Secret in one server-side apply. Nothing reaches the Secret before every check passed.

use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Patch, PatchParams};

use super::failure::{fail, on_tlm_error};
use super::{client_for, key_in, next_private_key, secret_text, secrets};
use crate::certificate::observe::{IssuerRefd, Observation};
use crate::certificate::observed::TargetSecret;
use crate::certificate::secret::target_secret;
use crate::certificate::spec::DesiredNames;
use crate::certificate::{Flow, ReconcileError};
use crate::clients::error::ErrorClass;
use crate::clients::tlm::TlmClient;
use crate::clients::tlm_types::AdditionalFormats;
use crate::context::Context;
use crate::crash;
use crate::labels::{FIELD_MANAGER, SERIAL_NUMBER};
use crate::pki::{
    CertDer, LeafInfo, PrivateKey, certs_from_chain_answer, certs_from_delivery, certs_from_pem, order_chain,
    verify_chain,
};

/// Fetches the chain, verifies it against our key and the spec, and writes the Secret.
pub(super) async fn complete(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    client: &TlmClient,
    serial: &str,
    delivered: Option<String>,
) -> Result<Flow, ReconcileError> {
    let key = next_private_key(obs)?;
    let delivered_certs = delivered.as_deref().map(certs_from_delivery);
    // The delivery often lacks only the root, which an earlier issuance of this Issuer fetched.
    let known = match &delivered_certs {
        Some(Ok(found)) => ctx.chain_roots.complete(&issuer.key, found, &key.spki_der()),
        _ => None,
    };
    let certs = match known {
        Some(chain) => chain,
        None => {
            let mut certs = match fetch_chain(ctx, obs, issuer, client, serial, delivered.is_some()).await? {
                Fetched::Chain(certs) => certs,
                Fetched::Done(flow) => return Ok(flow),
            };
            match delivered_certs {
                Some(Ok(found)) => certs.extend(
                    found
                        .into_iter()
                        .filter(|c| !certs.contains(c))
                        .collect::<Vec<_>>(),
                ),
                Some(Err(e)) if certs.is_empty() => {
                    return fail(
                        ctx,
                        obs,
                        "InvalidCertificate",
                        format!("TLM delivered an unreadable certificate: {e}"),
                    )
                    .await;
                }
                _ => {}
            }
            certs
        }
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
            format!("TLM issued certificate {serial} whose {why}"),
        )
        .await;
    }
    write_secret(ctx, obs, &key, &chain, &leaf).await?;
    ctx.chain_roots.learn(&issuer.key, &chain);
    ctx.memory.update(&obs.uid(), |m| {
        m.maybe_submitted = false;
        m.delivered = None;
    });
    tracing::info!(certificate = %obs.cert.name_any(), serial = %leaf.serial_hex, "certificate written to Secret");
    crash::point("after-secret");
    Ok(Flow::Continue)
}

enum Fetched {
    Chain(Vec<CertDer>),
    Done(Flow),
}

/// The chain from `additional-formats`; empty when TLM cannot give it but the submit already
/// delivered a certificate.
async fn fetch_chain(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    client: &TlmClient,
    serial: &str,
    delivered: bool,
) -> Result<Fetched, ReconcileError> {
    match client.additional_formats(serial).await {
        Ok(formats) => match chain_of(&formats) {
            Ok(found) => Ok(Fetched::Chain(found)),
            Err(why) => Ok(Fetched::Done(
                fail(ctx, obs, "InvalidChain", format!("TLM returned {why}")).await?,
            )),
        },
        // Without the extra formats the delivered certificate may still carry the chain.
        Err(e) if delivered && !matches!(e.class(), ErrorClass::Transient | ErrorClass::Auth) => {
            tracing::warn!(error = %e, "additional formats unavailable; using the delivered certificate");
            Ok(Fetched::Chain(Vec::new()))
        }
        Err(e) => Ok(Fetched::Done(on_tlm_error(ctx, obs, issuer, e).await?)),
    }
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
            // ca.crt is gone: the root comes from TLM.
            let Ok(issuer) = issuer else {
                return Ok(Flow::Requeue(Duration::from_secs(300)));
            };
            let serial = TargetSecret::parse(&secret)
                .annotation(SERIAL_NUMBER)
                .map(str::to_string)
                .unwrap_or_default();
            let client = client_for(ctx, issuer).await?;
            match client.additional_formats(&serial).await {
                Ok(f) => certs.extend(chain_of(&f).unwrap_or_default()),
                Err(e) => return on_tlm_error(ctx, obs, issuer, e).await,
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

/// The certificates of an additional-formats answer: the x509 chain, else the PKCS#7.
fn chain_of(formats: &AdditionalFormats) -> Result<Vec<CertDer>, String> {
    certs_from_chain_answer(
        formats.x509_cert_chain.iter().map(|e| e.cert_blob.as_str()),
        formats.pkcs7.as_deref(),
    )
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
