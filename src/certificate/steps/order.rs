//! Ordering: submit (or renew) the CSR, and before that, when this process cannot rule it out,
//! find an order an earlier attempt already placed for the same key.
//!
//! Crash safety. An immediate profile's order shows up in the backend's search (TLM's
//! certificate search) with its certificate, so after a lost answer the search finds it by key. A request awaiting approval is not
//! searchable; for profiles that may hold requests for approval, a record of the submit is
//! written to status *before* it is sent (`pendingRequest` with no serial and no request id).
//! Finding that record with no outcome means the answer was lost: the operator keeps
//! searching (the certificate appears once approved) and orders again only after
//! [`UNCONFIRMED_REORDER_AFTER`], or at once if the user deletes the next-key Secret.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::deliver::complete;
use super::failure::{fail, on_service_error};
use super::waiting::{record_request, unconfirmed_wait};
use super::{backend_for, generation, next_key_name_of, next_private_key, now, owner};
use crate::api::PendingRequest;
use crate::backend::{Awaiting, FoundOrder, KeySearch, OrderInput, OrderOutcome, Renewal};
use crate::certificate::observe::{IssuerRefd, Observation};
use crate::certificate::spec::csr_request;
use crate::certificate::status::{event, write_status};
use crate::certificate::{Flow, ReconcileError};
use crate::context::Context;
use crate::crash;
use crate::pki::{PrivateKey, build_csr_pem};

/// How long an unanswered submit to an approval profile is waited for before ordering again.
/// Approvals usually take hours; a lost answer is rare (a crash in a window of milliseconds).
pub const UNCONFIRMED_REORDER_AFTER: Duration = Duration::from_secs(24 * 3600);

fn in_flight_record(key: &PrivateKey, generation: i64) -> PendingRequest {
    PendingRequest {
        serial_number: None,
        pickup_request_id: None,
        public_key_sha256: key.spki_sha256_hex(),
        generation,
        submitted_at: Time(now()),
        polls: 0,
    }
}

/// Orders the certificate (or renews the old one); see the module comment for crash safety.
pub async fn submit(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    renew_serial: Option<String>,
    mark_first: bool,
    in_flight_since: Option<Timestamp>,
) -> Result<Flow, ReconcileError> {
    let backend = backend_for(ctx, issuer).await?;
    let service = backend.service();
    let key = next_private_key(obs)?;
    let uid = obs.uid();
    let gen_ = generation(obs).unwrap_or_default();
    let memory = ctx.memory.get(&uid);
    let known_unsent =
        memory.key_created_here.as_deref() == Some(key.spki_sha256_hex().as_str()) && !memory.maybe_submitted;
    let mut reorder = false;
    let owner = owner(obs);
    if !known_unsent {
        let search = KeySearch {
            spec: &obs.cert.spec,
            owner: &owner,
            key: &key,
            issued_after: obs.target().and_then(|t| t.matched_leaf().map(|l| l.not_before)),
        };
        match backend.find_order(&search).await {
            Ok(Some(FoundOrder::Issued { serial, certificate })) => {
                tracing::info!(certificate = %obs.cert.name_any(), %serial, "found an earlier order for this key; not ordering again");
                ctx.memory.update(&uid, |m| m.maybe_submitted = false);
                return complete(ctx, obs, issuer, &backend, &serial, Some(certificate)).await;
            }
            Ok(Some(FoundOrder::Pending { request_id })) => {
                tracing::info!(certificate = %obs.cert.name_any(), %request_id, "found an earlier order for this key still pending; not ordering again");
                return record_request(ctx, obs, &key, gen_, None, Some(request_id)).await;
            }
            Ok(None) => {
                if let Some(since) = in_flight_since {
                    let age = Duration::try_from(now().duration_since(since)).unwrap_or_default();
                    if age < UNCONFIRMED_REORDER_AFTER {
                        return unconfirmed_wait(ctx, obs, service, since).await;
                    }
                    reorder = true;
                    event(
                        ctx,
                        &obs.cert,
                        true,
                        "Reordering",
                        format!(
                            "A submit sent {}h ago got no answer and no certificate for its key appeared in {service}; ordering again",
                            age.as_secs() / 3600
                        ),
                    )
                    .await;
                }
            }
            Err(e) => return on_service_error(ctx, obs, issuer, e).await,
        }
    }

    if mark_first || reorder {
        let record = in_flight_record(&key, gen_);
        let key_name = next_key_name_of(obs);
        write_status(ctx, obs, |s| {
            s.pending_request = Some(Box::new(record));
            if s.next_private_key_secret_name.is_none() {
                s.next_private_key_secret_name = key_name;
            }
        })
        .await?;
    }
    let csr = build_csr_pem(&csr_request(&obs.cert.spec), &key).map_err(ReconcileError::Pki)?;
    let name = obs.cert.name_any();
    let renew = renew_serial.clone().map(|serial| Renewal {
        serial,
        thumbprint_sha256: obs
            .target()
            .and_then(|t| t.matched_leaf().map(|l| l.thumbprint_sha256.clone())),
    });
    let input = OrderInput {
        certificate: &name,
        owner: &owner,
        spec: &obs.cert.spec,
        csr,
        renew,
    };
    ctx.memory.update(&uid, |m| m.maybe_submitted = true);
    let outcome = match backend.order(&input).await {
        Ok(outcome) => outcome,
        Err(e) => {
            if e.request_not_processed() {
                ctx.memory.update(&uid, |m| m.maybe_submitted = false);
            }
            return on_service_error(ctx, obs, issuer, e).await;
        }
    };
    crash::point("after-submit");
    let what = if renew_serial.is_some() {
        "Renewal requested"
    } else {
        "Requested"
    };
    let spec = backend.spec();
    let note = spec
        .validity_note(&obs.cert.spec)
        .map(|n| format!("; {n}"))
        .unwrap_or_default();
    let from = spec.ordered_from();
    let id = match &outcome {
        OrderOutcome::Issued { serial, .. } | OrderOutcome::IssuedWithoutCertificate { serial } => {
            format!("serial {serial}")
        }
        OrderOutcome::Pending {
            request_id,
            awaiting: Awaiting::Approval,
            ..
        } => format!("request {request_id}, awaiting approval"),
        OrderOutcome::Pending {
            request_id,
            awaiting: Awaiting::Validation,
            ..
        } => format!("request {request_id}, awaiting validation"),
        OrderOutcome::Rejected => "rejected".into(),
        OrderOutcome::Canceled { status } => status.clone(),
        OrderOutcome::UnknownStatus(v) => format!("status {v:?}"),
    };
    // Issued at once, the one Event is the outcome's (Issued); anything else is worth its own.
    if !matches!(outcome, OrderOutcome::Issued { .. }) {
        event(
            ctx,
            &obs.cert,
            false,
            "Requested",
            format!("{what} from {from} ({id}){note}"),
        )
        .await;
    } else {
        tracing::debug!(certificate = %obs.cert.name_any(), "{what} from {from} ({id}){note}");
    }
    match outcome {
        // Issued at once: the Secret (annotated with the serial) is the durable record.
        OrderOutcome::Issued { serial, certificate } => {
            complete(ctx, obs, issuer, &backend, &serial, Some(certificate)).await
        }
        OrderOutcome::IssuedWithoutCertificate { serial } => {
            record_request(ctx, obs, &key, gen_, Some(serial), None).await
        }
        OrderOutcome::Pending { request_id, .. } => {
            record_request(ctx, obs, &key, gen_, None, Some(request_id)).await
        }
        OrderOutcome::Rejected => {
            fail(
                ctx,
                obs,
                "Rejected",
                format!("{service} rejected the request when it was submitted"),
            )
            .await
        }
        OrderOutcome::Canceled { status } => {
            fail(
                ctx,
                obs,
                "Canceled",
                format!(
                    "{service} answered the submit with status {status:?}; no certificate will come from it"
                ),
            )
            .await
        }
        OrderOutcome::UnknownStatus(value) => {
            fail(
                ctx,
                obs,
                "UnexpectedStatus",
                format!(
                    "{service} answered the submit with status {value:?}, which the operator does not know"
                ),
            )
            .await
        }
    }
}
