//! Ordering: submit (or renew) the CSR, and before that, when this process cannot rule it out,
//! find an order an earlier attempt already placed for the same key.
//!
//! Crash safety. An immediate profile's order shows up in TLM's search with its certificate,
//! so after a lost answer the search finds it by key. A request awaiting approval is not
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
use super::failure::{fail, on_tlm_error};
use super::waiting::{record_request, unconfirmed_wait};
use super::{client_for, generation, next_key_name_of, next_private_key, now};
use crate::api::PendingRequest;
use crate::certificate::observe::{IssuerRefd, Observation};
use crate::certificate::observed::IssuerView;
use crate::certificate::recover::{Lookup, find_order_for_key};
use crate::certificate::request::{renew_request, seat_id, submit_request, validity_note};
use crate::certificate::spec::{csr_request, request_common_name};
use crate::certificate::status::{event, write_status};
use crate::certificate::{Flow, ReconcileError};
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm_types::{IssueOutcome, IssueResponse};
use crate::context::Context;
use crate::crash;
use crate::pki::{PrivateKey, build_csr_pem};

/// How long an unanswered submit to an approval profile is waited for before ordering again.
/// Approvals usually take hours; a lost answer is rare (a crash in a window of milliseconds).
pub const UNCONFIRMED_REORDER_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What the ready issuer says about its profile.
struct ProfileTraits {
    validity_override: bool,
    profile_validity: Option<String>,
}

fn traits(issuer: &IssuerRefd) -> ProfileTraits {
    match &issuer.view {
        IssuerView::Ready(r) => ProfileTraits {
            validity_override: r.validity_override,
            profile_validity: r.profile_validity.clone(),
        },
        _ => ProfileTraits {
            validity_override: false,
            profile_validity: None,
        },
    }
}

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
    let client = client_for(ctx, issuer).await?;
    let key = next_private_key(obs)?;
    let uid = obs.uid();
    let gen_ = generation(obs).unwrap_or_default();
    let memory = ctx.memory.get(&uid);
    let known_unsent =
        memory.key_created_here.as_deref() == Some(key.spki_sha256_hex().as_str()) && !memory.maybe_submitted;
    let mut reorder = false;
    if !known_unsent {
        let lookup = Lookup {
            profile_id: &issuer.tlm.profile_id,
            common_name: request_common_name(&obs.cert.spec),
            seat_id: Some(seat_id(&obs.cert.spec, &issuer.tlm)),
            key: &key,
            issued_after: obs.target().and_then(|t| t.matched_leaf().map(|l| l.not_before)),
        };
        match find_order_for_key(&client, &lookup).await {
            Ok(Some(found)) => {
                tracing::info!(certificate = %obs.cert.name_any(), serial = %found.serial, "found an earlier order for this key; not ordering again");
                ctx.memory.update(&uid, |m| m.maybe_submitted = false);
                return complete(ctx, obs, issuer, &client, &found.serial, Some(found.certificate)).await;
            }
            Ok(None) => {
                if let Some(since) = in_flight_since {
                    let age = Duration::try_from(now().duration_since(since)).unwrap_or_default();
                    if age < UNCONFIRMED_REORDER_AFTER {
                        return unconfirmed_wait(ctx, obs, since).await;
                    }
                    reorder = true;
                    event(
                        ctx,
                        &obs.cert,
                        true,
                        "Reordering",
                        format!(
                            "A submit sent {}h ago got no answer and no certificate for its key appeared in TLM; ordering again",
                            age.as_secs() / 3600
                        ),
                    )
                    .await;
                }
            }
            Err(e) => return on_tlm_error(ctx, obs, issuer, e).await,
        }
    }

    if mark_first || reorder {
        let record = in_flight_record(&key, gen_);
        let key_name = next_key_name_of(obs);
        write_status(ctx, obs, |s| {
            s.pending_request = Some(record);
            if s.next_private_key_secret_name.is_none() {
                s.next_private_key_secret_name = key_name;
            }
        })
        .await?;
    }
    let traits = traits(issuer);
    let csr = build_csr_pem(&csr_request(&obs.cert.spec), &key).map_err(ReconcileError::Pki)?;
    ctx.memory.update(&uid, |m| m.maybe_submitted = true);
    let response = send(obs, issuer, &client, renew_serial.as_deref(), &traits, csr).await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            if e.request_not_processed() {
                ctx.memory.update(&uid, |m| m.maybe_submitted = false);
            }
            return on_tlm_error(ctx, obs, issuer, e).await;
        }
    };
    crash::point("after-submit");
    let outcome = match response.outcome() {
        Ok(outcome) => outcome,
        Err(reason) => {
            let e = ServiceError::UnexpectedBody {
                service: "TLM",
                endpoint: "submit",
                reason,
            };
            return on_tlm_error(ctx, obs, issuer, e).await;
        }
    };
    let what = if renew_serial.is_some() {
        "Renewal requested"
    } else {
        "Requested"
    };
    let note = validity_note(
        &obs.cert.spec,
        &issuer.tlm,
        traits.validity_override,
        traits.profile_validity.as_deref(),
    )
    .map(|n| format!("; {n}"))
    .unwrap_or_default();
    let id = match &outcome {
        IssueOutcome::Issued { serial, .. } | IssueOutcome::IssuedWithoutCertificate { serial } => {
            format!("serial {serial}")
        }
        IssueOutcome::Pending { request_id } => format!("request {request_id}, awaiting approval"),
        IssueOutcome::Rejected => "rejected".into(),
        IssueOutcome::UnknownStatus(v) => format!("status {v:?}"),
    };
    // Issued at once, the one Event is the outcome's (Issued); anything else is worth its own.
    if !matches!(outcome, IssueOutcome::Issued { .. }) {
        event(
            ctx,
            &obs.cert,
            false,
            "Requested",
            format!("{what} from TLM profile {} ({id}){note}", issuer.tlm.profile_id),
        )
        .await;
    } else {
        tracing::debug!(certificate = %obs.cert.name_any(), "{what} from TLM profile {} ({id}){note}", issuer.tlm.profile_id);
    }
    match outcome {
        // Issued at once: the Secret (annotated with the serial) is the durable record.
        IssueOutcome::Issued { serial, certificate } => {
            complete(ctx, obs, issuer, &client, &serial, Some(certificate)).await
        }
        IssueOutcome::IssuedWithoutCertificate { serial } => {
            record_request(ctx, obs, &key, gen_, Some(serial), None).await
        }
        IssueOutcome::Pending { request_id } => {
            record_request(ctx, obs, &key, gen_, None, Some(request_id)).await
        }
        IssueOutcome::Rejected => {
            fail(
                ctx,
                obs,
                "Rejected",
                "TLM rejected the request when it was submitted".into(),
            )
            .await
        }
        IssueOutcome::UnknownStatus(value) => {
            fail(
                ctx,
                obs,
                "UnexpectedStatus",
                format!("TLM answered the submit with status {value:?}, which the operator does not know"),
            )
            .await
        }
    }
}

/// Renew inside the profile's renewal window (falling back to a new order when TLM refuses),
/// else submit.
async fn send(
    obs: &Observation,
    issuer: &IssuerRefd,
    client: &crate::clients::tlm::TlmClient,
    renew_serial: Option<&str>,
    traits: &ProfileTraits,
    csr: String,
) -> Result<IssueResponse, ServiceError> {
    let spec = &obs.cert.spec;
    let submit_body = submit_request(spec, &issuer.tlm, traits.validity_override, csr.clone());
    let Some(serial) = renew_serial else {
        return client.submit(&submit_body).await;
    };
    let thumbprint = obs
        .target()
        .and_then(|t| t.matched_leaf().map(|l| l.thumbprint_sha256.clone()));
    let body = renew_request(spec, &issuer.tlm, traits.validity_override, csr.clone());
    match client.renew(serial, thumbprint.as_deref(), &body).await {
        Ok(r) => Ok(r),
        // Not renewable after all (revoked, outside the window...): order anew.
        Err(e)
            if matches!(
                e.class(),
                ErrorClass::InvalidInput | ErrorClass::NotFound | ErrorClass::Conflict
            ) =>
        {
            tracing::info!(certificate = %obs.cert.name_any(), error = %e, "renew refused; submitting a new request instead");
            client.submit(&submit_body).await
        }
        Err(e) => Err(e),
    }
}
