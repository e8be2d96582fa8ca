//! The one next action for a CertificateRequest, from what was observed: a pure function (no
//! IO), so every branch of cert-manager's external-issuer contract is unit-tested.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::api::{APPROVED, CertificateRequest, DENIED, READY, REASON_DENIED, REASON_FAILED, REASON_INVALID};
use super::csr::CsrFacts;
use super::issuer::{IssuerState, ReadyProfile};
use super::record::OrderRecord;
use crate::backend::tlm::request::issuer_validity_wire;
use crate::clients::tlm_types::ValidityWire;

/// How long an unanswered submit to an approval profile is waited for before ordering again
/// (as for Certificates: a pending request cannot be looked up in TLM).
pub const UNCONFIRMED_REORDER_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How often a request whose issuer is not ready is looked at again.
pub const ISSUER_RECHECK: Duration = Duration::from_secs(10);
/// The same for an issuer not checked yet (just created: its check takes a moment).
pub const ISSUER_UNCHECKED_RECHECK: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Not ours, not approved yet, or finished: nothing to write.
    Nothing,
    /// `Ready=False, Denied` and `failureTime`; nothing is ordered.
    Deny,
    /// `Ready=False, InvalidRequest` and `failureTime`: TLM cannot do what is asked.
    Refuse(String),
    /// `Ready=False, Failed` and `failureTime`.
    Fail(String),
    /// `Ready=False, Pending` with the message; looked at again after the duration.
    WaitForIssuer(String, Duration),
    /// Write the in-flight record, then submit the CSR.
    Submit(Submission),
    /// A submit whose answer was lost: look for its certificate by key (and order with this
    /// submission if there is none and ordering again is right).
    Recover {
        since: Timestamp,
        submission: Submission,
    },
    Pickup {
        request_id: String,
        profile_id: String,
    },
    Poll {
        serial: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub validity: Option<ValidityWire>,
    /// Why a requested duration is not sent, for the Ready message.
    pub note: Option<String>,
}

pub struct Inputs<'a> {
    pub cr: &'a CertificateRequest,
    pub csr: &'a Result<CsrFacts, String>,
    pub issuer: &'a IssuerState,
    pub record: &'a Result<Option<OrderRecord>, String>,
}

/// Finished: Ready=True, or a terminal failure (cert-manager's failed reasons, or a
/// `failureTime`). Such requests are never processed again.
pub fn is_finished(cr: &CertificateRequest) -> bool {
    let failed_at = cr.status.as_ref().is_some_and(|s| s.failure_time.is_some());
    let ready = cr.condition(READY);
    failed_at
        || ready.is_some_and(|c| {
            c.status == "True"
                || matches!(
                    c.reason.as_deref(),
                    Some(REASON_FAILED | REASON_DENIED | REASON_INVALID)
                )
        })
}

pub fn decide(i: &Inputs<'_>) -> Action {
    if !i.cr.is_ours() || is_finished(i.cr) {
        return Action::Nothing;
    }
    if i.cr.is_true(DENIED) {
        return Action::Deny;
    }
    if !i.cr.is_true(APPROVED) {
        return Action::Nothing;
    }
    let csr = match i.csr {
        Ok(csr) => csr,
        Err(why) => return Action::Refuse(why.clone()),
    };
    if i.cr.spec.is_ca == Some(true) || csr.requests_ca {
        return Action::Refuse(
            "TLM issues end-entity certificates only: isCA (or a CA basicConstraints in the CSR) cannot be honoured".into(),
        );
    }
    let requested = match i.cr.spec.duration.as_deref().map(days_of) {
        None => None,
        Some(Ok(days)) => Some(days),
        Some(Err(why)) => return Action::Refuse(why),
    };
    let profile = match i.issuer {
        IssuerState::Ready(p) => p,
        other => {
            let wait = match other {
                IssuerState::Unchecked(_) => ISSUER_UNCHECKED_RECHECK,
                _ => ISSUER_RECHECK,
            };
            return Action::WaitForIssuer(issuer_message(other), wait);
        }
    };
    match i.record {
        Err(why) => Action::Fail(why.clone()),
        Ok(None) => Action::Submit(submission(requested, profile)),
        Ok(Some(record)) => match (&record.request_id, &record.serial_number) {
            (_, Some(serial)) => Action::Poll {
                serial: serial.clone(),
            },
            (Some(request_id), None) => Action::Pickup {
                request_id: request_id.clone(),
                profile_id: record.profile_id.clone(),
            },
            (None, None) => match record.submitted() {
                Ok(since) => Action::Recover {
                    since,
                    submission: submission(requested, profile),
                },
                Err(why) => Action::Fail(why),
            },
        },
    }
}

/// The validity to send: the request's duration in whole days (rounded up), else the
/// Issuer's `validity`; sent only when the profile lets the API override its own.
fn submission(requested_days: Option<u32>, profile: &ReadyProfile) -> Submission {
    let wanted = requested_days
        .map(|days| ValidityWire {
            unit: "days".into(),
            duration: days,
        })
        .or_else(|| profile.issuer_validity.as_ref().map(issuer_validity_wire));
    if profile.validity_override || wanted.is_none() {
        return Submission {
            validity: wanted,
            note: None,
        };
    }
    Submission {
        validity: None,
        note: Some(format!(
            "the profile's own validity applies ({}); it does not let the API override it, so the requested duration was not sent",
            profile.profile_validity.as_deref().unwrap_or("as set in TLM")
        )),
    }
}

/// A Go duration (`2160h0m0s`) in whole days, rounded up.
fn days_of(text: &str) -> Result<u32, String> {
    let duration: kube::core::Duration = text
        .parse()
        .map_err(|e| format!("spec.duration {text:?} is not a duration: {e}"))?;
    if duration.is_negative() {
        return Err(format!("spec.duration {text:?} is negative"));
    }
    let secs = Duration::from(duration).as_secs();
    if secs == 0 {
        return Err(format!("spec.duration {text:?} is zero"));
    }
    Ok(u32::try_from(secs.div_ceil(86_400)).unwrap_or(u32::MAX))
}

fn issuer_message(state: &IssuerState) -> String {
    match state {
        IssuerState::UnknownKind(kind) => {
            format!("issuerRef.kind {kind:?} is not served by tlm.certops.dev (use Issuer or ClusterIssuer)")
        }
        IssuerState::NotFound(what) => format!("Referenced issuer {what} not found"),
        IssuerState::Unchecked(what) => format!("Referenced issuer {what} has not been checked yet"),
        IssuerState::NotReady {
            what,
            reason,
            message,
        } => format!("Referenced issuer {what} is not ready ({reason}): {message}"),
        IssuerState::Ready(_) => String::new(),
    }
}

/// After a search found no certificate for a submit whose answer was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// Order (again): an immediate profile's order would have been found, so there was none;
    /// or an approval profile's request has been waited for long enough.
    Reorder,
    /// It may await approval: search again after this long.
    Wait(Duration),
}

pub fn after_search_miss(may_need_approval: bool, since: Timestamp, now: Timestamp) -> Miss {
    if !may_need_approval {
        return Miss::Reorder;
    }
    let age = age(since, now);
    if age >= UNCONFIRMED_REORDER_AFTER {
        Miss::Reorder
    } else {
        Miss::Wait(poll_interval(age))
    }
}

/// Pickups and searches for a waiting order: every (time since submit)/4, 2 s to 1 h.
pub fn poll_interval(age: Duration) -> Duration {
    (age / 4).clamp(Duration::from_secs(2), Duration::from_secs(3600))
}

pub fn age(since: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(since)).unwrap_or_default()
}

/// Backoff after `n` consecutive transient failures: 5 s doubling to 5 min.
pub fn retry_after(n: u32) -> Duration {
    Duration::from_secs(5u64.saturating_mul(1 << n.min(6))).min(Duration::from_secs(300))
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
