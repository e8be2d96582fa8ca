//! An order placed and not yet delivered: pickup of a request awaiting approval, status of a
//! serial; and the periodic check that an issued certificate is still valid in the backend.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::deliver::complete;
use super::failure::{fail, note_retrying, on_service_error};
use super::{backend_for, generation, now};
use crate::api::{ISSUING, PendingRequest};
use crate::backend::{Awaiting, CertState, OrderOutcome};
use crate::certificate::decide::{ConditionSpec, poll_interval};
use crate::certificate::observe::{IssuerRefd, Observation};
use crate::certificate::status::{event, reason_of, set_condition, write_status};
use crate::certificate::{Flow, ReconcileError};
use crate::clients::error::ErrorClass;
use crate::context::Context;
use crate::pki::PrivateKey;

/// Records what the backend answered (a serial without a certificate, or a request id awaiting
/// approval) before anything else happens.
pub(super) async fn record_request(
    ctx: &Context,
    obs: &mut Observation,
    key: &PrivateKey,
    generation: i64,
    serial: Option<String>,
    request_id: Option<String>,
) -> Result<Flow, ReconcileError> {
    let record = PendingRequest {
        serial_number: serial,
        pickup_request_id: request_id,
        public_key_sha256: key.spki_sha256_hex(),
        generation,
        submitted_at: Time(now()),
        polls: 0,
    };
    let key_name = super::next_key_name_of(obs);
    write_status(ctx, obs, |s| {
        s.pending_request = Some(Box::new(record));
        if s.next_private_key_secret_name.is_none() {
            s.next_private_key_secret_name = key_name;
        }
    })
    .await?;
    ctx.memory.update(&obs.uid(), |m| {
        m.maybe_submitted = false;
        // The first pickup a moment later, not at once: approval takes at least that.
        m.last_poll = Some(now());
    });
    Ok(Flow::Continue)
}

/// Asks about a pending order (TLM: `POST /certificate-pickup/{request_id}`): issued, still
/// pending, or rejected.
pub async fn pickup(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    request_id: &str,
) -> Result<Flow, ReconcileError> {
    let backend = backend_for(ctx, issuer).await?;
    let service = backend.service();
    ctx.memory.update(&obs.uid(), |m| m.last_poll = Some(now()));
    let outcome = match backend.poll_order(request_id).await {
        Ok(outcome) => outcome,
        Err(e) if e.class() == ErrorClass::NotFound => {
            return fail(
                ctx,
                obs,
                "RequestNotFound",
                format!("{service} no longer knows request {request_id}: {e}"),
            )
            .await;
        }
        Err(e) => return on_service_error(ctx, obs, issuer, e).await,
    };
    match outcome {
        OrderOutcome::Issued { serial, certificate } => {
            complete(ctx, obs, issuer, &backend, &serial, Some(certificate)).await
        }
        OrderOutcome::IssuedWithoutCertificate { serial } => {
            let pending = obs.cert.status.as_ref().and_then(|s| s.pending_request.clone());
            let Some(mut pending) = pending else {
                return Ok(Flow::Continue);
            };
            pending.serial_number = Some(serial);
            write_status(ctx, obs, |s| s.pending_request = Some(pending)).await?;
            Ok(Flow::Continue)
        }
        OrderOutcome::Pending { awaiting, why, .. } => {
            still_pending(ctx, obs, service, request_id, awaiting, why.as_deref()).await
        }
        OrderOutcome::Canceled { status } => {
            fail(
                ctx,
                obs,
                "Canceled",
                format!("{service} request {request_id} is {status}; no certificate will come from it"),
            )
            .await
        }
        OrderOutcome::Rejected => {
            fail(
                ctx,
                obs,
                "Rejected",
                format!("{service} request {request_id} was rejected by an approver"),
            )
            .await
        }
        OrderOutcome::UnknownStatus(value) => {
            unexpected_status(ctx, obs, service, &format!("request {request_id}"), &value).await
        }
    }
}

/// Reads a serial that an order returned without its certificate (TLM:
/// `GET /certificate/{serial}`).
/// Revoked, suspended or expired before delivery: that serial is finished; start over with a
/// new key.
pub async fn poll(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    serial: &str,
) -> Result<Flow, ReconcileError> {
    let backend = backend_for(ctx, issuer).await?;
    let service = backend.service();
    ctx.memory.update(&obs.uid(), |m| m.last_poll = Some(now()));
    let record = match backend.certificate(serial).await {
        Ok(r) => r,
        Err(e) => return on_service_error(ctx, obs, issuer, e).await,
    };
    match record.state {
        CertState::Issued => complete(ctx, obs, issuer, &backend, serial, record.certificate).await,
        CertState::Unknown(value) => {
            unexpected_status(ctx, obs, service, &format!("certificate {serial}"), &value).await
        }
        terminal => {
            let state = match terminal {
                CertState::Revoked => "Revoked",
                CertState::Suspended => "Suspended",
                _ => "Expired",
            };
            event(
                ctx,
                &obs.cert,
                true,
                &format!("{state}In{service}"),
                format!(
                    "{service} reports certificate {serial} as {} before it was delivered; issuing a new one with a new key",
                    terminal.name()
                ),
            )
            .await;
            // Forget the order and its key: the next pass begins a new issuance.
            super::progress::cleanup(ctx, obs).await
        }
    }
}

/// Still waiting for an approver (`Issuing=False, Pending`) or for the CA's validation
/// (`Issuing=False, PendingValidation`), naming the request; one Event.
async fn still_pending(
    ctx: &Context,
    obs: &mut Observation,
    service: &str,
    request_id: &str,
    awaiting: Awaiting,
    why: Option<&str>,
) -> Result<Flow, ReconcileError> {
    let (reason, what, until) = match awaiting {
        Awaiting::Approval => ("Pending", "awaits approval", "approved or rejected"),
        Awaiting::Validation => ("PendingValidation", "awaits validation", "issued or rejected"),
    };
    let first_time = reason_of(&obs.cert, ISSUING).as_deref() != Some(reason);
    let gen_ = generation(obs);
    let said = why.map(|w| format!(" (status {w})")).unwrap_or_default();
    let message = format!(
        "{service} request {request_id} {what}{said}; checked with backoff (at most hourly) until it is {until}"
    );
    write_status(ctx, obs, |s| {
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(false, reason, message.clone()),
            gen_,
        )
    })
    .await?;
    if first_time {
        event(ctx, &obs.cert, false, reason, message).await;
    }
    Ok(Flow::Requeue(poll_interval(age(obs))))
}

/// A submit to an approval profile went out and its answer was lost: wait for its certificate
/// to appear in the backend (a pending request cannot be looked up).
pub(super) async fn unconfirmed_wait(
    ctx: &Context,
    obs: &mut Observation,
    service: &str,
    since: Timestamp,
) -> Result<Flow, ReconcileError> {
    ctx.memory.update(&obs.uid(), |m| m.last_poll = Some(now()));
    let first_time = reason_of(&obs.cert, ISSUING).as_deref() != Some("SubmitUnconfirmed");
    let gen_ = generation(obs);
    let name = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| s.next_private_key_secret_name.clone())
        .unwrap_or_default();
    let message = format!(
        "A request sent at {since} got no answer (the operator restarted or the connection broke); it may be awaiting approval in {service}, where pending requests cannot be looked up. Searching for its certificate with backoff; ordering again after {}h, or at once if Secret {name} is deleted",
        super::order::UNCONFIRMED_REORDER_AFTER.as_secs() / 3600
    );
    write_status(ctx, obs, |s| {
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(false, "SubmitUnconfirmed", message.clone()),
            gen_,
        )
    })
    .await?;
    if first_time {
        event(ctx, &obs.cert, true, "SubmitUnconfirmed", message).await;
    }
    let waited = Duration::try_from(now().duration_since(since)).unwrap_or_default();
    Ok(Flow::Requeue(poll_interval(waited)))
}

/// A status value the operator does not know: say so (once), and ask again with backoff.
async fn unexpected_status(
    ctx: &Context,
    obs: &mut Observation,
    service: &str,
    what: &str,
    value: &str,
) -> Result<Flow, ReconcileError> {
    let message = format!("{service} reports {what} with status {value:?}, which the operator does not know");
    note_retrying(ctx, obs, "UnexpectedStatus", &message).await?;
    Ok(Flow::Requeue(poll_interval(age(obs))))
}

fn age(obs: &Observation) -> Duration {
    let submitted = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| s.pending_request.as_ref())
        .map(|p| p.submitted_at.0);
    submitted.map_or(Duration::ZERO, |t| {
        Duration::try_from(now().duration_since(t)).unwrap_or_default()
    })
}

/// How soon to ask again after a check that could not be made.
const CHECK_RETRY: Duration = Duration::from_secs(600);

/// Asks the backend whether the Secret's certificate is still valid. Writes nothing to the API
/// server unless it is revoked, suspended or expired (then the next pass re-issues).
pub async fn check_issued(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    serial: &str,
) -> Result<Flow, ReconcileError> {
    let uid = obs.uid();
    let backend = backend_for(ctx, issuer).await?;
    let service = backend.service();
    if !backend.looks_up_serials() {
        // Nothing to ask: the certificate's own validity is all there is to watch.
        ctx.issued_checks.checked(&uid, serial, None);
        return Ok(Flow::Continue);
    }
    match backend.certificate(serial).await {
        Ok(record) => match record.state {
            CertState::Issued => ctx.issued_checks.checked(&uid, serial, None),
            CertState::Unknown(value) => {
                tracing::warn!(%serial, status = %value, service, "the backend reports an unknown certificate status; checking again later");
                ctx.issued_checks.checked(&uid, serial, None);
            }
            terminal => {
                tracing::warn!(%serial, status = terminal.name(), service, "the backend reports the issued certificate as no longer valid");
                ctx.issued_checks
                    .checked(&uid, serial, Some(terminal.name().to_string()));
            }
        },
        Err(e) => {
            tracing::warn!(%serial, error = %e, service, "could not check the certificate in the backend; trying again later");
            ctx.issued_checks.retry_in(&uid, CHECK_RETRY);
        }
    }
    Ok(Flow::Continue)
}
