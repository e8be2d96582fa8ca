//! The next-key Secret: created before any order is placed with its key, deleted when it no
//! longer fits or its certificate is delivered.

use std::time::Duration;

use kube::api::{DeleteParams, PostParams, Preconditions};

use super::{key_in, secrets};
use crate::certificate::keygen::KeyTicket;
use crate::certificate::observe::Observation;
use crate::certificate::observed::is_next_key_of;
use crate::certificate::secret::{fresh_next_key_name, next_key_secret};
use crate::certificate::status::{event, write_status};
use crate::certificate::{Flow, ReconcileError};
use crate::context::Context;
use crate::crash;
use crate::pki::PrivateKey;

/// Creates the next-key Secret named in status (generating a key, or copying the current one).
pub async fn create_next_key(
    ctx: &Context,
    obs: &mut Observation,
    name: &str,
    reuse_current_key: bool,
) -> Result<Flow, ReconcileError> {
    let first_issuance = obs
        .cert
        .status
        .as_ref()
        .is_none_or(|s| s.next_private_key_secret_name.is_none());
    let key = if reuse_current_key {
        key_in(obs.secret.as_ref())?
    } else {
        let pk = obs.cert.spec.private_key.clone();
        if pk.algorithm == crate::api::KeyAlgorithm::RSA {
            // RSA 4096 takes about a second: made on the key threads in this namespace's turn,
            // while this worker serves other Certificates.
            let namespace = obs.cert.metadata.namespace.clone().unwrap_or_default();
            let id = format!("{}/{name}/{:?}", obs.uid(), pk.size);
            match ctx.config.keys.poll(&id, &namespace, pk.algorithm, pk.size) {
                KeyTicket::Ready(key) => key.map_err(ReconcileError::Pki)?,
                KeyTicket::Waiting { waiting } => {
                    return Ok(Flow::Requeue(key_wait(waiting, ctx.config.keys.threads())));
                }
            }
        } else {
            // EC and Ed25519 keys take microseconds; a thread hop would cost more.
            PrivateKey::generate(pk.algorithm, pk.size).map_err(ReconcileError::Pki)?
        }
    };
    if first_issuance {
        // The decision to issue is made and nothing is written yet (a first issuance records
        // nothing before its key).
        crash::point("after-begin");
        tracing::info!(certificate = %obs.cert.metadata.name.as_deref().unwrap_or_default(), next_key = name, "issuance started");
    }
    let api = secrets(ctx, obs);
    let created = match api
        .create(&PostParams::default(), &next_key_secret(&obs.cert, name, &key))
        .await
    {
        // No Event: the outcome (issued, pending, failed) gets one; the key's Secret alone
        // is not news.
        Ok(secret) => {
            let spki = key.spki_sha256_hex();
            ctx.memory.update(&obs.uid(), |m| {
                m.key_created_here = Some(spki);
                m.maybe_submitted = false;
            });
            tracing::debug!(certificate = %obs.cert.metadata.name.as_deref().unwrap_or_default(), next_key = name, reuse_current_key, "next key stored");
            secret
        }
        // Created by an earlier attempt whose answer we did not see: use it as it is, but only
        // if it is ours (our labels, owned by this Certificate); a Secret someone else put
        // under that name is left alone and a new name is chosen.
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let existing = api.get(name).await?;
            if !is_next_key_of(&existing, &obs.cert) {
                event(
                    ctx,
                    &obs.cert,
                    true,
                    "NextKeyNameTaken",
                    format!(
                        "Secret {name} exists and is not this Certificate's next key; choosing another name"
                    ),
                )
                .await;
                let fresh = fresh_next_key_name(obs.cert.metadata.name.as_deref().unwrap_or_default());
                write_status(ctx, obs, |s| {
                    s.next_private_key_secret_name = Some(fresh);
                    s.pending_request = None;
                })
                .await?;
                return Ok(Flow::Continue);
            }
            existing
        }
        Err(e) => return Err(e.into()),
    };
    obs.next_key = Some(created);
    crash::point("after-key");
    Ok(Flow::Continue)
}

/// Deletes a next key that no longer fits and forgets the request made with it.
pub async fn discard_next_key(
    ctx: &Context,
    obs: &mut Observation,
    name: &str,
) -> Result<Flow, ReconcileError> {
    delete_secret(ctx, obs, name).await?;
    obs.next_key = None;
    write_status(ctx, obs, |s| {
        s.next_private_key_secret_name = None;
        s.pending_request = None;
    })
    .await?;
    Ok(Flow::Continue)
}

/// When to look for a key again: about when the keys asked for before it should be made (an
/// RSA-4096 key takes roughly a second of one core), between 0.2 s and 30 s.
fn key_wait(waiting: usize, threads: usize) -> Duration {
    let per_key = Duration::from_millis(800);
    per_key
        .saturating_mul(u32::try_from(waiting).unwrap_or(u32::MAX))
        .checked_div(u32::try_from(threads.max(1)).unwrap_or(1))
        .unwrap_or_default()
        .clamp(Duration::from_millis(200), Duration::from_secs(30))
}

/// Deletes a next-key Secret — only the one observed (UID precondition), so a Secret someone
/// put under that name since is never deleted.
pub(super) async fn delete_secret(ctx: &Context, obs: &Observation, name: &str) -> Result<(), kube::Error> {
    let observed_uid = obs
        .next_key
        .as_ref()
        .filter(|s| s.metadata.name.as_deref() == Some(name))
        .and_then(|s| s.metadata.uid.clone());
    let Some(uid) = observed_uid else {
        // Not observed: it does not exist (the observation reads the named next key).
        return Ok(());
    };
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match secrets(ctx, obs).delete(name, &params).await {
        Ok(_) => Ok(()),
        // Gone, or replaced by another object: not ours to delete.
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
