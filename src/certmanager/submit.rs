//! Ordering a CertificateRequest's certificate, crash-safe: the in-flight record goes onto the
//! request before the submit is sent, the answer (request id or serial) before any waiting.
//! A record without an answer means the answer was lost; then TLM's search is asked for a
//! certificate with the CSR's key before anything is ordered again (see `decide::Miss`).

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::decide::{Miss, Submission, UNCONFIRMED_REORDER_AFTER, after_search_miss};
use super::record::OrderRecord;
use super::status::{event, write_record};
use super::step::{Step, StepResult};
use super::waiting::{deliver, record_answer};
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm_types::{CertificateState, IdRef, SearchQuery, SeatRef, SubmitRequest};
use crate::crash;
use crate::pki::{LeafInfo, certs_from_delivery};

/// Search results whose certificate is missing are read one by one, at most this many.
const MAX_LOOKUPS: usize = 20;

impl Step<'_> {
    fn seat_id(&self) -> String {
        self.tlm
            .seat_id
            .clone()
            .or_else(|| self.csr.primary_name())
            .unwrap_or_default()
    }

    /// Writes the in-flight record, sends the CSR, and follows the answer.
    pub async fn submit(&mut self, submission: Submission) -> StepResult {
        let record = OrderRecord::in_flight(&self.tlm.profile_id, Timestamp::now());
        self.cr = write_record(self.ctx(), &self.cr, Some(&record)).await?;
        let body = SubmitRequest {
            profile: IdRef {
                id: self.tlm.profile_id.clone(),
            },
            seat: SeatRef {
                seat_id: self.seat_id(),
            },
            csr: self.csr.pem.clone(),
            validity: submission.validity.clone(),
            delivery_format: "x509".into(),
            include_ca_chain: true,
            attributes: self.csr.attributes(),
        };
        let response = match self.client.submit(&body).await {
            Ok(r) => r,
            Err(e) => {
                if e.request_not_processed() {
                    // Nothing was ordered: the record must not make the next pass wait.
                    self.cr = write_record(self.ctx(), &self.cr, None).await?;
                }
                return self.on_tlm_error(e).await;
            }
        };
        crash::point("cr-after-submit");
        let outcome = match response.outcome() {
            Ok(o) => o,
            Err(reason) => {
                return self
                    .on_tlm_error(ServiceError::UnexpectedBody {
                        service: "TLM",
                        endpoint: "submit",
                        reason,
                    })
                    .await;
            }
        };
        let note = submission
            .note
            .as_ref()
            .map(|n| format!("; {n}"))
            .unwrap_or_default();
        event(
            self.ctx(),
            &self.cr,
            false,
            "Requested",
            format!(
                "Requested from TLM profile {} ({}){note}",
                self.tlm.profile_id,
                describe(&outcome)
            ),
        )
        .await;
        tracing::info!(request = %self.cr.name_any(), namespace = %self.cr.namespace().unwrap_or_default(), outcome = %describe(&outcome), "CertificateRequest submitted to TLM");
        record_answer(self, record, outcome, submission.note).await
    }

    /// A submit whose answer was lost: deliver its certificate if TLM has one for the CSR's
    /// key; otherwise order (immediate profiles: nothing was ordered) or wait for approval.
    pub async fn recover(&mut self, since: Timestamp, submission: Submission) -> StepResult {
        match self.find_by_key().await {
            Ok(Some((serial, certificate))) => {
                tracing::info!(request = %self.cr.name_any(), %serial, "found the order of a lost submit answer; not ordering again");
                return deliver(self, &serial, Some(certificate), None).await;
            }
            Ok(None) => {}
            Err(e) => return self.on_tlm_error(e).await,
        }
        match after_search_miss(self.profile.may_need_approval, since, Timestamp::now()) {
            Miss::Reorder => {
                if self.profile.may_need_approval {
                    event(
                        self.ctx(),
                        &self.cr,
                        true,
                        "Reordering",
                        format!("A submit sent at {since} got no answer and no certificate for its key appeared in TLM; ordering again"),
                    )
                    .await;
                }
                self.submit(submission).await
            }
            Miss::Wait(wait) => {
                let message = format!(
                    "A request sent at {since} got no answer (the operator restarted or the connection broke); it may await approval in TLM, where pending requests cannot be looked up. Searching for its certificate with backoff; ordering again after {}h",
                    UNCONFIRMED_REORDER_AFTER.as_secs() / 3600
                );
                self.pending(message, wait).await
            }
        }
    }

    /// An issued certificate in TLM for the CSR's key: (serial, certificate as returned).
    async fn find_by_key(&self) -> Result<Option<(String, String)>, ServiceError> {
        let query = SearchQuery {
            common_name: self.csr.subject.common_name.clone(),
            profile_id: Some(self.tlm.profile_id.clone()),
            seat_id: Some(self.seat_id()),
            status: Some("ISSUED".into()),
            ..Default::default()
        };
        let results = match self.client.search_all(&query).await {
            Ok(r) => r,
            Err(e) if matches!(e.class(), ErrorClass::NotFound | ErrorClass::InvalidInput) => {
                tracing::warn!(error = %e, "TLM search unavailable; cannot check for an earlier order");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let ours = |text: &str| {
            certs_from_delivery(text)
                .ok()
                .and_then(|certs| certs.first().and_then(|c| LeafInfo::parse(c).ok()))
                .is_some_and(|leaf| leaf.spki_der == self.csr.spki_der)
        };
        let mut lookups = 0;
        for item in results.items {
            let (Some(serial), CertificateState::Issued) = (item.serial_number.clone(), item.state()) else {
                continue;
            };
            let text = match item.certificate {
                Some(text) => text,
                None if lookups < MAX_LOOKUPS => {
                    lookups += 1;
                    match self.client.status(&serial).await?.certificate {
                        Some(text) => text,
                        None => continue,
                    }
                }
                None => continue,
            };
            if ours(&text) {
                return Ok(Some((serial, text)));
            }
        }
        Ok(None)
    }
}

fn describe(outcome: &crate::clients::tlm_types::IssueOutcome) -> String {
    use crate::clients::tlm_types::IssueOutcome;
    match outcome {
        IssueOutcome::Issued { serial, .. } | IssueOutcome::IssuedWithoutCertificate { serial } => {
            format!("serial {serial}")
        }
        IssueOutcome::Pending { request_id } => format!("request {request_id}, awaiting approval"),
        IssueOutcome::Rejected => "rejected".into(),
        IssueOutcome::UnknownStatus(v) => format!("status {v:?}"),
    }
}
