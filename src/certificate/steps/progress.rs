//! Status-only steps: syncing conditions, waiting for the issuer, and the first and last write
//! of an issuance.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::keys::delete_secret;
use super::{generation, now};
use crate::api::{CertificateSpec, CertificateStatus, ISSUING, READY, conditions};
use crate::certificate::decide::{ConditionSpec, IssueReason, StatusChange};
use crate::certificate::observe::Observation;
use crate::certificate::renewal::renewal_time;
use crate::certificate::secret::fresh_next_key_name;
use crate::certificate::status::{event, reason_of, set_condition, write_status};
use crate::certificate::{Flow, ReconcileError};
use crate::context::Context;
use crate::crash;
use crate::pki::LeafInfo;

/// Status conditions only (and, when the Secret is up to date, the certificate's facts).
pub async fn sync_status(
    ctx: &Context,
    obs: &mut Observation,
    change: &StatusChange,
) -> Result<Flow, ReconcileError> {
    let leaf = obs.target().and_then(|t| t.matched_leaf().cloned());
    let spec = obs.cert.spec.clone();
    let gen_ = generation(obs);
    write_status(ctx, obs, |s| {
        set_condition(s, READY, &change.ready, gen_);
        match &change.issuing {
            Some(issuing) => set_condition(s, ISSUING, issuing, gen_),
            None => {
                if conditions::is_true(&s.conditions, ISSUING) {
                    set_condition(
                        s,
                        ISSUING,
                        &ConditionSpec::new(false, "Issued", "No issuance in progress"),
                        gen_,
                    );
                }
            }
        }
        if change.ready.status
            && change.issuing.is_none()
            && let Some(leaf) = &leaf
        {
            record_certificate(s, &spec, leaf, gen_);
        }
    })
    .await?;
    Ok(Flow::Continue)
}

/// The facts of the Secret's certificate in status; a certificate in hand ends a failure streak.
fn record_certificate(
    s: &mut CertificateStatus,
    spec: &CertificateSpec,
    leaf: &LeafInfo,
    generation: Option<i64>,
) {
    s.serial_number = Some(leaf.serial_hex.clone());
    s.thumbprint = Some(leaf.thumbprint_sha256.clone());
    s.public_key_sha256 = Some(crate::pki::spki_sha256_hex(&leaf.spki_der));
    s.not_before = Some(Time(leaf.not_before));
    s.not_after = Some(Time(leaf.not_after));
    s.renewal_time = Some(Time(renewal_time(spec, leaf.not_before, leaf.not_after)));
    s.observed_generation = generation;
    s.failed_issuance_attempts = None;
    s.last_failure_time = None;
}

/// Reports a missing or unready issuer: one status write and one Event per change of reason.
pub async fn wait_for_issuer(
    ctx: &Context,
    obs: &mut Observation,
    change: &StatusChange,
) -> Result<Flow, ReconcileError> {
    report(ctx, obs, change, ISSUING, "IssuerNotReady").await
}

/// The Secret may not be written: say why (status and one Warning Event per change of reason)
/// and order nothing.
pub async fn refuse(
    ctx: &Context,
    obs: &mut Observation,
    change: &StatusChange,
) -> Result<Flow, ReconcileError> {
    let reason = change.ready.reason.clone();
    report(ctx, obs, change, READY, &reason).await
}

/// Writes the conditions of `change`; a Warning Event with `reason` when the `watched`
/// condition did not already say it.
async fn report(
    ctx: &Context,
    obs: &mut Observation,
    change: &StatusChange,
    watched: &str,
    reason: &str,
) -> Result<Flow, ReconcileError> {
    let before = reason_of(&obs.cert, watched);
    let gen_ = generation(obs);
    write_status(ctx, obs, |s| {
        set_condition(s, READY, &change.ready, gen_);
        if let Some(issuing) = &change.issuing {
            set_condition(s, ISSUING, issuing, gen_);
        }
    })
    .await?;
    if before.as_deref() != Some(reason) {
        let note = change
            .issuing
            .as_ref()
            .map(|c| c.message.clone())
            .unwrap_or_else(|| change.ready.message.clone());
        event(ctx, &obs.cert, true, reason, note).await;
    }
    Ok(Flow::Requeue(change.requeue_after))
}

/// Records why an issuance starts and the name its key will have, before the key exists.
pub async fn begin_issuance(
    ctx: &Context,
    obs: &mut Observation,
    reason: &IssueReason,
) -> Result<Flow, ReconcileError> {
    let name = fresh_next_key_name(&obs.cert.name_any());
    let message = reason.message(&obs.cert.spec.secret_name);
    let gen_ = generation(obs);
    let keeps_serving = reason.keeps_serving();
    write_status(ctx, obs, |s| {
        s.next_private_key_secret_name = Some(name.clone());
        s.pending_request = None;
        s.observed_generation = gen_;
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(true, reason.reason(), message.clone()),
            gen_,
        );
        if !keeps_serving {
            set_condition(
                s,
                READY,
                &ConditionSpec::new(false, reason.reason(), message.clone()),
                gen_,
            );
        }
    })
    .await?;
    if matches!(reason, IssueReason::InvalidInTlm { .. }) {
        // Someone revoked or suspended it in TLM: the application is serving a certificate
        // clients may refuse. That deserves attention, not just a quiet re-issue.
        event(ctx, &obs.cert, true, reason.reason(), message).await;
    }
    tracing::info!(certificate = %obs.cert.name_any(), reason = reason.reason(), next_key = %name, "issuance started");
    crash::point("after-begin");
    Ok(Flow::Continue)
}

/// The Secret holds the new certificate: delete the next key, then record success.
/// `note` (e.g. that the profile's own validity applied) is added to the Issuing message.
pub async fn finalize(
    ctx: &Context,
    obs: &mut Observation,
    note: Option<String>,
) -> Result<Flow, ReconcileError> {
    // A key named in status is deleted first, so the status never forgets a key that exists. A
    // first issuance's key is found by its fixed name instead, so it goes after the status
    // records the issuance: the record is what a failed write must not lose.
    let first_issuance = obs
        .cert
        .status
        .as_ref()
        .is_none_or(|s| s.next_private_key_secret_name.is_none());
    if !first_issuance {
        delete_next_key(ctx, obs).await?;
    }
    let Some(leaf) = obs.target().and_then(|t| t.matched_leaf().cloned()) else {
        delete_next_key(ctx, obs).await?;
        return Ok(Flow::Continue);
    };
    let why = reason_of(&obs.cert, ISSUING).unwrap_or_default();
    let started = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, ISSUING))
        .map(|c| c.last_transition_time.0)
        // A first issuance records no start: it started when the Certificate was created.
        .or_else(|| obs.cert.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let spec = obs.cert.spec.clone();
    let gen_ = generation(obs);
    let message = match &note {
        Some(note) => format!("Certificate issued (serial {}); {note}", leaf.serial_hex),
        None => format!("Certificate issued (serial {})", leaf.serial_hex),
    };
    write_status(ctx, obs, |s| {
        s.revision = Some(s.revision.unwrap_or(0) + 1);
        record_certificate(s, &spec, &leaf, gen_);
        s.next_private_key_secret_name = None;
        s.pending_request = None;
        set_condition(
            s,
            READY,
            &ConditionSpec::new(true, "Ready", "Certificate is up to date and has not expired"),
            gen_,
        );
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(false, "Issued", message.clone()),
            gen_,
        );
    })
    .await?;
    if first_issuance {
        delete_next_key(ctx, obs).await?;
    }
    if let Some(started) = started {
        let secs = Duration::try_from(now().duration_since(started))
            .unwrap_or_default()
            .as_secs_f64();
        ctx.metrics.issuance_seconds.observe(secs);
    }
    let revision = obs.cert.status.as_ref().and_then(|s| s.revision).unwrap_or(1);
    let reason = match (revision, why.as_str()) {
        (1, _) => "Issued",
        (_, "Renewing" | "Expired") => "Renewed",
        _ => "Reissued",
    };
    let note = format!("{reason}: serial {}, revision {revision}", leaf.serial_hex);
    event(ctx, &obs.cert, false, reason, note).await;
    ctx.memory.forget(&obs.uid());
    Ok(Flow::Continue)
}

/// Deletes the next-key Secret named in status or observed under the first issuance's name.
async fn delete_next_key(ctx: &Context, obs: &mut Observation) -> Result<(), kube::Error> {
    let name = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| s.next_private_key_secret_name.clone())
        .or_else(|| obs.next_key.as_ref().and_then(|s| s.metadata.name.clone()));
    if let Some(name) = name {
        delete_secret(ctx, obs, &name).await?;
        obs.next_key = None;
    }
    Ok(())
}

/// Drops issuance state that no longer belongs to anything.
pub async fn cleanup(ctx: &Context, obs: &mut Observation) -> Result<Flow, ReconcileError> {
    delete_next_key(ctx, obs).await?;
    write_status(ctx, obs, |s| {
        s.next_private_key_secret_name = None;
        s.pending_request = None;
    })
    .await?;
    ctx.memory.forget(&obs.uid());
    Ok(Flow::Continue)
}
