//! Thin IO around `decide`: observe one CertificateRequest, ask for the next action, do it.

use std::sync::Arc;
use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action as Requeue;
use kube::{Resource, ResourceExt};

use super::api::{CertificateRequest, REASON_DENIED, REASON_FAILED, REASON_INVALID, REASON_PENDING};
use super::csr::parse_request;
use super::decide::{Action, ISSUER_RECHECK, Inputs, decide, is_finished};
use super::issuer::{IssuerState, referenced};
use super::record::{ORDER_ANNOTATION, OrderRecord};
use super::status::{ReadyUpdate, event, set_ready};
use super::step::{CmContext, CmError, Step, StepResult};
use super::waiting::{pickup, poll};
use crate::clients::fair_turns::Tenant;

pub async fn reconcile(cr: Arc<CertificateRequest>, cm: Arc<CmContext>) -> StepResult {
    if !cr.is_ours() || is_finished(&cr) {
        return Ok(Requeue::await_change());
    }
    let ctx = &cm.ctx;
    let csr = parse_request(&cr.spec.request);
    let issuer = referenced(&cr, ctx);
    let record = OrderRecord::parse(cr.annotation(ORDER_ANNOTATION));
    let action = decide(&Inputs {
        cr: &cr,
        csr: &csr,
        issuer: &issuer.state,
        record: &record,
    });
    let terminal = |reason: &'static str, message: String| {
        let cm = cm.clone();
        let cr = cr.clone();
        async move {
            event(&cm.ctx, &cr, true, reason, message.clone()).await;
            set_ready(&cm.ctx, &cr, ReadyUpdate::not_ready(reason, message, true)).await?;
            Ok::<_, CmError>(Requeue::await_change())
        }
    };
    match action {
        Action::Nothing => return Ok(Requeue::await_change()),
        Action::Deny => {
            return terminal(
                REASON_DENIED,
                "The CertificateRequest was denied by an approval controller; nothing was ordered".into(),
            )
            .await;
        }
        Action::Refuse(message) => return terminal(REASON_INVALID, message).await,
        Action::Fail(message) => return terminal(REASON_FAILED, message).await,
        Action::WaitForIssuer(message, wait) => {
            set_ready(ctx, &cr, ReadyUpdate::not_ready(REASON_PENDING, message, false)).await?;
            return Ok(Requeue::requeue(wait));
        }
        Action::Recover { .. } => {
            // A lost answer is rare; make sure it is not just a cache behind our own write.
            let api: Api<CertificateRequest> =
                Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default());
            let fresh = api.get(&cr.name_any()).await?;
            if fresh.resource_version() != cr.resource_version() {
                return Ok(Requeue::requeue(Duration::from_secs(1)));
            }
        }
        Action::Submit(_) | Action::Pickup { .. } | Action::Poll { .. } => {}
    }
    let (Some(key), Some(tlm), IssuerState::Ready(profile), Ok(csr)) =
        (issuer.key, issuer.tlm, &issuer.state, &csr)
    else {
        return Ok(Requeue::await_change());
    };
    let client = match ctx.registry.client(&ctx.client, &key, &tlm).await {
        // Requests share the issuer's budget fairly between namespaces, as Certificates do.
        Ok(client) => client.for_tenant(Tenant::from(cr.namespace().unwrap_or_default())),
        Err(e) => {
            let message = format!("cannot use the API key of {key}: {e}");
            set_ready(ctx, &cr, ReadyUpdate::not_ready(REASON_PENDING, message, false)).await?;
            return Ok(Requeue::requeue(ISSUER_RECHECK));
        }
    };
    let mut step = Step {
        cm: &cm,
        cr: (*cr).clone(),
        csr,
        key,
        tlm: &tlm,
        profile,
        client,
    };
    match action {
        Action::Submit(submission) => step.submit(submission).await,
        Action::Recover { since, submission } => step.recover(since, submission).await,
        Action::Pickup {
            request_id,
            profile_id,
        } => pickup(&mut step, &request_id, &profile_id).await,
        Action::Poll { serial } => poll(&mut step, &serial).await,
        _ => Ok(Requeue::await_change()),
    }
}

/// A failed write (usually a conflict with a newer version): look again with backoff.
pub fn error_policy(cr: Arc<CertificateRequest>, error: &CmError, cm: Arc<CmContext>) -> Requeue {
    let CmError::Kube(e) = error;
    if matches!(e, kube::Error::Api(s) if s.code == 409) {
        tracing::debug!(request = %cr.name_any(), "CertificateRequest changed meanwhile; looking again");
        return Requeue::requeue(Duration::from_secs(1));
    }
    let wait = cm.failed_again(&cr.uid().unwrap_or_default());
    tracing::warn!(request = %cr.name_any(), namespace = %cr.namespace().unwrap_or_default(), kind = %CertificateRequest::kind(&()), %error, retry_in = ?wait, "CertificateRequest reconcile failed");
    Requeue::requeue(wait)
}
