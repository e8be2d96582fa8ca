//! What a failed step leaves behind: permanent failures back off hard, everything else is
//! shown once in the Issuing condition and retried.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{backend_spec, generation, now};
use crate::api::{ISSUING, READY};
use crate::certificate::decide::{ConditionSpec, failure_backoff};
use crate::certificate::observe::{IssuerRefd, Observation};
use crate::certificate::status::{event, reason_of, set_condition, write_status};
use crate::certificate::{CONTROLLER, Flow, ReconcileError};
use crate::clients::error::{ErrorClass, ServiceError};
use crate::context::Context;

/// How long to wait after the service refused a request with 403: someone must change a profile's
/// rights or the Issuer; asking every few seconds would only fill the audit log.
const ACCESS_DENIED_RETRY: Duration = Duration::from_secs(60);

/// A permanent failure of this issuance: count it, report it, back off.
pub async fn fail(
    ctx: &Context,
    obs: &mut Observation,
    reason: &str,
    message: String,
) -> Result<Flow, ReconcileError> {
    let gen_ = generation(obs);
    let attempts = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| s.failed_issuance_attempts)
        .unwrap_or(0)
        .saturating_add(1);
    let backoff = failure_backoff(attempts.max(1) as u32);
    let serving = obs
        .target()
        .and_then(|t| t.matched_leaf().cloned())
        .is_some_and(|l| l.not_after > now());
    let note = format!("{message}; next attempt in {}s", backoff.as_secs());
    write_status(ctx, obs, |s| {
        s.failed_issuance_attempts = Some(attempts);
        s.last_failure_time = Some(Time(now()));
        s.observed_generation = gen_;
        s.pending_request = None;
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(false, "Failed", format!("{reason}: {note}")),
            gen_,
        );
        if !serving {
            set_condition(
                s,
                READY,
                &ConditionSpec::new(false, reason, message.clone()),
                gen_,
            );
        }
    })
    .await?;
    event(ctx, &obs.cert, true, reason, note).await;
    ctx.metrics.reconcile_failed(CONTROLLER, reason);
    Ok(Flow::Requeue(backoff))
}

/// Routes a service error: permanent ones fail the issuance, the rest are reported once and
/// retried.
pub async fn on_service_error(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    e: ServiceError,
) -> Result<Flow, ReconcileError> {
    match e.class() {
        ErrorClass::InvalidInput | ErrorClass::Conflict | ErrorClass::NotFound | ErrorClass::Config => {
            fail(ctx, obs, e.reason(), e.to_string()).await
        }
        ErrorClass::Auth if e.is_access_denied() => {
            // The key itself may be fine: a 403 also means the issuer names something the key
            // may not use (for TLM: a profile outside the key's business unit).
            let message = backend_spec(issuer).access_denied(&e);
            note_retrying(ctx, obs, e.reason(), &message).await?;
            Ok(Flow::Requeue(ACCESS_DENIED_RETRY))
        }
        ErrorClass::Auth => {
            ctx.registry.invalidate(&issuer.key);
            note_retrying(ctx, obs, e.reason(), &e.to_string()).await?;
            Ok(Flow::Requeue(Duration::from_secs(30)))
        }
        ErrorClass::Transient | ErrorClass::UnexpectedBody => {
            note_retrying(ctx, obs, e.reason(), &e.to_string()).await?;
            Err(ReconcileError::Service(e))
        }
    }
}

/// Shows a retried failure in the Issuing condition and an Event, once per change of reason.
pub async fn note_retrying(
    ctx: &Context,
    obs: &mut Observation,
    reason: &str,
    message: &str,
) -> Result<(), ReconcileError> {
    if reason_of(&obs.cert, ISSUING).as_deref() == Some(reason) {
        return Ok(());
    }
    let gen_ = generation(obs);
    let text = format!("{message}; retrying");
    write_status(ctx, obs, |s| {
        set_condition(s, ISSUING, &ConditionSpec::new(true, reason, text.clone()), gen_)
    })
    .await?;
    event(ctx, &obs.cert, true, reason, text).await;
    Ok(())
}
