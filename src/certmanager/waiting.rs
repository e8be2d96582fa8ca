//! An order placed and not yet delivered: its answer recorded, a request awaiting approval
//! picked up with backoff, a serial read; and delivery into `status.certificate`.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::api::REASON_ISSUED;
use super::chain::{assemble, certs_of};
use super::decide::{age, poll_interval};
use super::record::{ORDER_ANNOTATION, OrderRecord};
use super::status::{ReadyUpdate, event, set_ready, write_record};
use super::step::{Step, StepResult};
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm_types::{CertificateState, IssueOutcome};

/// Follows a submit or pickup answer. A request id or a serial without its certificate is
/// recorded before anything else, so it is picked up or read, never ordered again.
pub async fn record_answer(
    step: &mut Step<'_>,
    mut record: OrderRecord,
    outcome: IssueOutcome,
    note: Option<String>,
) -> StepResult {
    match outcome {
        IssueOutcome::Issued { serial, certificate } => deliver(step, &serial, Some(certificate), note).await,
        IssueOutcome::IssuedWithoutCertificate { serial } => {
            record.serial_number = Some(serial);
            step.cr = write_record(step.ctx(), &step.cr, Some(&record)).await?;
            step.cm.progressed(&step.uid());
            Ok(Action::requeue(Duration::from_secs(2)))
        }
        IssueOutcome::Pending { request_id } => {
            record.request_id = Some(request_id.clone());
            step.cr = write_record(step.ctx(), &step.cr, Some(&record)).await?;
            step.cm.progressed(&step.uid());
            let message = awaiting(&request_id);
            event(step.ctx(), &step.cr, false, "Pending", message.clone()).await;
            step.pending(message, poll_interval(Duration::ZERO)).await
        }
        IssueOutcome::Rejected => step.fail("TLM rejected the request".into()).await,
        IssueOutcome::UnknownStatus(value) => {
            let wait = step.cm.failed_again(&step.uid());
            step.pending(
                format!("TLM answered with status {value:?}, which the operator does not know; asking again"),
                wait,
            )
            .await
        }
    }
}

fn awaiting(request_id: &str) -> String {
    format!(
        "TLM request {request_id} awaits approval; checked with backoff (at most hourly) until it is approved or rejected"
    )
}

fn submitted(step: &Step<'_>) -> Option<Timestamp> {
    OrderRecord::parse(step.cr.annotation(ORDER_ANNOTATION))
        .ok()
        .flatten()
        .and_then(|r| r.submitted().ok())
}

/// `POST /certificate-pickup/{request_id}`.
pub async fn pickup(step: &mut Step<'_>, request_id: &str, profile_id: &str) -> StepResult {
    let response = match step.client.pickup(request_id, profile_id).await {
        Ok(r) => r,
        Err(e) if e.class() == ErrorClass::NotFound => {
            return step
                .fail(format!("TLM no longer knows request {request_id}: {e}"))
                .await;
        }
        Err(e) => return step.on_tlm_error(e).await,
    };
    let outcome = match response.outcome() {
        Ok(o) => o,
        Err(reason) => {
            return step
                .on_tlm_error(ServiceError::UnexpectedBody {
                    service: "TLM",
                    endpoint: "pickup",
                    reason,
                })
                .await;
        }
    };
    match outcome {
        IssueOutcome::Pending { .. } => {
            step.cm.progressed(&step.uid());
            let waited = submitted(step).map_or(Duration::ZERO, |t| age(t, Timestamp::now()));
            step.pending(awaiting(request_id), poll_interval(waited)).await
        }
        IssueOutcome::Rejected => {
            step.fail(format!("TLM request {request_id} was rejected by an approver"))
                .await
        }
        other => {
            let record = OrderRecord::parse(step.cr.annotation(ORDER_ANNOTATION))
                .ok()
                .flatten()
                .unwrap_or_else(|| OrderRecord::in_flight(profile_id, Timestamp::now()));
            record_answer(step, record, other, None).await
        }
    }
}

/// `GET /certificate/{serial}` for an order answered with a serial only.
pub async fn poll(step: &mut Step<'_>, serial: &str) -> StepResult {
    let record = match step.client.status(serial).await {
        Ok(r) => r,
        Err(e) => return step.on_tlm_error(e).await,
    };
    match record.state() {
        CertificateState::Issued => deliver(step, serial, record.certificate, None).await,
        CertificateState::Unknown(value) => {
            let wait = step.cm.failed_again(&step.uid());
            step.pending(
                format!("TLM reports certificate {serial} with status {value:?}, which the operator does not know; asking again"),
                wait,
            )
            .await
        }
        terminal => {
            step.fail(format!(
                "TLM reports certificate {serial} as {} before it was delivered",
                terminal.name()
            ))
            .await
        }
    }
}

/// Completes and verifies the chain, then writes `status.certificate`, `status.ca` and
/// `Ready=True, Issued` in one write.
pub async fn deliver(
    step: &mut Step<'_>,
    serial: &str,
    delivered: Option<String>,
    note: Option<String>,
) -> StepResult {
    let mut certs = Vec::new();
    match step.client.additional_formats(serial).await {
        Ok(formats) => match certs_of(&formats) {
            Ok(found) => certs = found,
            Err(why) => return step.fail(format!("TLM returned {why}")).await,
        },
        // Without the extra formats the delivered certificate may still carry the chain.
        Err(e) if delivered.is_some() && !matches!(e.class(), ErrorClass::Transient | ErrorClass::Auth) => {
            tracing::warn!(error = %e, "additional formats unavailable; using the delivered certificate");
        }
        Err(e) => return step.on_tlm_error(e).await,
    }
    let issued = match assemble(certs, delivered.as_deref(), step.csr, serial) {
        Ok(issued) => issued,
        Err(why) => return step.fail(why).await,
    };
    let note = note.map(|n| format!("; {n}")).unwrap_or_default();
    let message = format!(
        "Certificate {} issued by TLM profile {}, valid until {}{note}",
        issued.leaf.serial_hex, step.tlm.profile_id, issued.leaf.not_after
    );
    let update = ReadyUpdate {
        ready: true,
        reason: REASON_ISSUED,
        message: message.clone(),
        failed: false,
        issued: Some((issued.certificate_pem, issued.ca_pem)),
    };
    step.cr = set_ready(step.ctx(), &step.cr, update).await?;
    step.cm.progressed(&step.uid());
    event(step.ctx(), &step.cr, false, "Issued", message).await;
    tracing::info!(request = %step.cr.name_any(), namespace = %step.cr.namespace().unwrap_or_default(), serial = %issued.leaf.serial_hex, "CertificateRequest issued");
    Ok(Action::await_change())
}
