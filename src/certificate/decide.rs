//! The Certificate lifecycle as a pure function: from what is observed to the one next step.
//! `reconcile.rs` performs the step, writes its outcome, observes again and asks again.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::observed::{IssuerView, NextKey, TargetSecret};
use super::renewal::renewal_time;
use super::spec::{DesiredNames, request_hash};
use crate::api::{
    CertificateSpec, CertificateStatus, ISSUING, OutputFormat, READY, RotationPolicy, conditions,
};
use crate::labels;
use crate::pki::spki_sha256_hex;

/// Longest sleep between checks of an up-to-date certificate (re-verifies the Secret).
const MAX_IDLE: Duration = Duration::from_secs(10 * 3600);
/// First and longest pause after a permanent failure (cert-manager backs off from 1h; we start
/// lower because TLM failures are often fixed within minutes, e.g. a profile setting).
const FAILURE_BACKOFF_BASE: Duration = Duration::from_secs(5 * 60);
const FAILURE_BACKOFF_MAX: Duration = Duration::from_secs(24 * 3600);

/// Why a certificate must be (re-)issued. The name is the `Issuing` condition's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueReason {
    DoesNotExist,
    InvalidSecret(String),
    IncorrectKey,
    IncorrectCertificate(String),
    SpecChanged,
    Expired,
    Renewing,
    /// TLM reports the Secret's certificate as revoked, suspended or expired (the state's wire
    /// name): that serial is finished.
    InvalidInTlm {
        serial: String,
        state: String,
    },
}

impl IssueReason {
    pub fn reason(&self) -> &'static str {
        match self {
            IssueReason::DoesNotExist => "DoesNotExist",
            IssueReason::InvalidSecret(_) => "InvalidSecret",
            IssueReason::IncorrectKey => "IncorrectKey",
            IssueReason::IncorrectCertificate(_) => "IncorrectCertificate",
            IssueReason::SpecChanged => "SpecChanged",
            IssueReason::Expired => "Expired",
            IssueReason::Renewing => "Renewing",
            IssueReason::InvalidInTlm { state, .. } => match state.as_str() {
                "revoked" => "RevokedInTLM",
                "suspended" => "SuspendedInTLM",
                _ => "ExpiredInTLM",
            },
        }
    }

    pub fn message(&self, secret_name: &str) -> String {
        match self {
            IssueReason::DoesNotExist => {
                format!("Issuing certificate as Secret {secret_name} does not exist")
            }
            IssueReason::InvalidSecret(why) => {
                format!("Issuing certificate as Secret {secret_name} is invalid: {why}")
            }
            IssueReason::IncorrectKey => {
                format!(
                    "Issuing certificate as the private key in Secret {secret_name} does not match the certificate"
                )
            }
            IssueReason::IncorrectCertificate(why) => {
                format!(
                    "Issuing certificate as the certificate in Secret {secret_name} does not match the spec: {why}"
                )
            }
            IssueReason::SpecChanged => "Issuing certificate as the spec changed".to_string(),
            IssueReason::Expired => {
                format!("Issuing certificate as the certificate in Secret {secret_name} expired")
            }
            IssueReason::Renewing => "Renewing certificate as renewal time was reached".to_string(),
            IssueReason::InvalidInTlm { serial, state } => {
                format!(
                    "Issuing certificate as TLM reports certificate {serial} in Secret {secret_name} as {state}"
                )
            }
        }
    }

    /// A usable certificate is still in the Secret while this issuance runs.
    pub fn keeps_serving(&self) -> bool {
        matches!(self, IssueReason::Renewing | IssueReason::SpecChanged)
    }
}

/// Everything `decide` looks at.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The Certificate's name (a Secret records which Certificate wrote it).
    pub name: &'a str,
    pub spec: &'a CertificateSpec,
    pub generation: i64,
    pub status: &'a CertificateStatus,
    pub secret: Option<&'a TargetSecret>,
    /// The Secret named by `status.nextPrivateKeySecretName`, if it exists.
    pub next_key: Option<&'a NextKey>,
    pub issuer: &'a IssuerView,
    pub now: Timestamp,
    /// When this process last polled the pending request, if it did.
    pub last_poll: Option<Timestamp>,
    /// The periodic check of the issued certificate's state in TLM (None: checks are off).
    pub issued_check: Option<&'a IssuedCheck>,
    /// An older Certificate in the namespace with the same `secretName`: it holds the Secret.
    pub secret_held_by: Option<&'a str>,
    /// The next-key name of the Certificate's first issuance (fixed by its UID): used without a
    /// status write first.
    pub first_key_name: Option<&'a str>,
}

/// What this process knows of the Secret's certificate in TLM, and when to ask again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCheck {
    /// The serial the check is about; a different serial in the Secret makes it moot.
    pub serial: Option<String>,
    pub due: Timestamp,
    /// Set when TLM answered revoked, suspended or expired.
    pub terminal_state: Option<String>,
}

/// The one next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do; look again after this long.
    Idle {
        requeue_after: Duration,
    },
    /// Only the status is out of date.
    SyncStatus(StatusChange),
    /// The issuer cannot issue; report it and wait for the issuer to change.
    WaitForIssuer(StatusChange),
    /// The Secret may not be written (another Certificate holds it, it is someone else's, or
    /// of another type): report it, order nothing.
    Refuse(StatusChange),
    /// Start an issuance: record why and the next-key Secret's name, before the key exists.
    BeginIssuance {
        reason: IssueReason,
    },
    /// Create the next-key Secret named in status (or the first issuance's); with `reuse_current_key` it copies the key
    /// in the target Secret (`rotationPolicy: Never`).
    CreateNextKey {
        name: String,
        reuse_current_key: bool,
    },
    /// The next key no longer fits the spec (or cannot be read): delete it and start over.
    DiscardNextKey {
        name: String,
    },
    /// Send the CSR to TLM; `renew_serial` uses the renew endpoint for that certificate.
    /// `mark_first`: the profile may answer "pending", so record in status that a submit is
    /// under way before sending it (after a crash, that record stops a second order).
    /// `in_flight_since`: such a record exists and no answer was recorded: find the earlier
    /// order before ordering again.
    Submit {
        renew_serial: Option<String>,
        mark_first: bool,
        in_flight_since: Option<Timestamp>,
    },
    /// Ask TLM whether the Secret's certificate is still valid (not revoked or suspended).
    CheckIssued {
        serial: String,
    },
    /// Ask TLM about the request.
    Poll {
        serial: String,
    },
    Pickup {
        request_id: String,
    },
    /// The Secret holds the new certificate: record success and delete the next key.
    Finalize,
    /// Issuance state is left over although the Secret is up to date (e.g. the spec was
    /// reverted): drop it.
    Cleanup,
    /// The Secret's certificate is fine but its layout (labels, annotations, extra formats)
    /// is not: write it again from the same key and certificate.
    RepairSecret,
}

/// A status change that involves no other write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub ready: ConditionSpec,
    pub issuing: Option<ConditionSpec>,
    pub requeue_after: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionSpec {
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl ConditionSpec {
    pub fn new(status: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// Decides the next step.
pub fn decide(i: &Inputs<'_>) -> Step {
    if let Some(refusal) = refusal(i) {
        return Step::Refuse(refusal);
    }
    let needed = issuance_needed(i);
    let status = i.status;
    match needed {
        None => {
            let serial_in_secret = i
                .secret
                .and_then(TargetSecret::matched_leaf)
                .map(|l| l.serial_hex.clone());
            if status.next_private_key_secret_name.is_some()
                || status.pending_request.is_some()
                || i.next_key.is_some()
            {
                // The status records the last finished serial; a different one in the Secret is
                // the certificate this issuance wrote (finalizing may have crashed half-way).
                let finished_here = serial_in_secret.is_some() && serial_in_secret != status.serial_number;
                return if finished_here {
                    Step::Finalize
                } else {
                    Step::Cleanup
                };
            }
            if secret_layout_drift(i) {
                return Step::RepairSecret;
            }
            let leaf = i
                .secret
                .and_then(TargetSecret::matched_leaf)
                .expect("up to date implies a matched leaf");
            let renew_at = renewal_time(i.spec, leaf.not_before, leaf.not_after);
            let mut requeue_after = until(i.now, renew_at).min(MAX_IDLE);
            if status_reflects_secret(i, renew_at) {
                if let (Some(check), IssuerView::Ready(_)) = (i.issued_check, i.issuer) {
                    if i.now >= check.due {
                        return Step::CheckIssued {
                            serial: leaf.serial_hex.clone(),
                        };
                    }
                    requeue_after = requeue_after.min(until(i.now, check.due));
                }
                Step::Idle { requeue_after }
            } else {
                Step::SyncStatus(StatusChange {
                    ready: ConditionSpec::new(true, "Ready", "Certificate is up to date and has not expired"),
                    issuing: None,
                    requeue_after,
                })
            }
        }
        Some(reason) => {
            if *i.issuer == IssuerView::Unchecked {
                // Its first check is seconds away and its status change wakes us: wait quietly
                // rather than report a problem that is not one.
                return Step::Idle {
                    requeue_after: Duration::from_secs(5),
                };
            }
            if let Some(wait) = issuer_wait(i, &reason) {
                return Step::WaitForIssuer(wait);
            }
            if let Some(remaining) = failure_backoff_remaining(i) {
                return Step::Idle {
                    requeue_after: remaining,
                };
            }
            let name = match (status.next_private_key_secret_name.clone(), i.first_key_name) {
                (Some(name), _) => name,
                // A first issuance writes nothing before its key: the key's name is fixed, and
                // the status is written once, when the certificate is delivered (or a wait
                // begins).
                // Also when the reason changed while that key exists: it is the key to use or
                // discard, never one to leave behind.
                (None, Some(first))
                    if status.revision.is_none()
                        && (reason == IssueReason::DoesNotExist || i.next_key.is_some()) =>
                {
                    first.to_string()
                }
                (None, _) => return Step::BeginIssuance { reason },
            };
            let Some(next_key) = i.next_key else {
                let reuse_current_key = i.spec.private_key.rotation_policy == RotationPolicy::Never
                    && i.secret
                        .and_then(|s| s.key.as_ref().ok())
                        .is_some_and(|k| k.satisfies(i.spec.private_key.algorithm, i.spec.private_key.size));
                return Step::CreateNextKey {
                    name,
                    reuse_current_key,
                };
            };
            let fits = next_key
                .facts
                .as_ref()
                .is_some_and(|k| k.satisfies(i.spec.private_key.algorithm, i.spec.private_key.size));
            if !fits {
                return Step::DiscardNextKey { name };
            }
            let key_hash = next_key.facts.as_ref().map(|k| k.spki_sha256.as_str());
            match &status.pending_request {
                Some(p) if Some(p.public_key_sha256.as_str()) == key_hash && p.generation == i.generation => {
                    if let Some(wait) = poll_wait(i, p.submitted_at.0) {
                        return Step::Idle { requeue_after: wait };
                    }
                    match (&p.serial_number, &p.pickup_request_id) {
                        (Some(serial), _) => Step::Poll {
                            serial: serial.clone(),
                        },
                        (None, Some(id)) => Step::Pickup {
                            request_id: id.clone(),
                        },
                        (None, None) => Step::Submit {
                            renew_serial: renew_serial(i, &reason),
                            mark_first: false,
                            in_flight_since: Some(p.submitted_at.0),
                        },
                    }
                }
                _ => Step::Submit {
                    renew_serial: renew_serial(i, &reason),
                    mark_first: matches!(i.issuer, IssuerView::Ready(r) if r.may_need_approval),
                    in_flight_since: None,
                },
            }
        }
    }
}

/// Checked before anything else: a Secret this Certificate may not write is never taken over,
/// and no certificate is ordered for it (an order the Secret cannot take would be ordered again
/// on every pass).
fn refusal(i: &Inputs<'_>) -> Option<StatusChange> {
    let (reason, message) = match (i.secret_held_by, i.secret) {
        (Some(holder), _) => (
            "DuplicateSecretName",
            format!(
                "Certificate {holder} already uses Secret {}; this Certificate orders nothing until one of them changes its secretName",
                i.spec.secret_name
            ),
        ),
        (None, Some(secret)) => secret.refusal(i.name, &i.spec.secret_name)?,
        (None, None) => return None,
    };
    Some(StatusChange {
        ready: ConditionSpec::new(false, reason, message.clone()),
        issuing: Some(ConditionSpec::new(false, reason, message)),
        // Neither a foreign Secret (not watched) nor another Certificate wakes this one: look
        // again soon, so an opt-in or a fix takes effect within half a minute.
        requeue_after: Duration::from_secs(30),
    })
}

/// Why the Secret does not satisfy the spec, if it does not.
pub fn issuance_needed(i: &Inputs<'_>) -> Option<IssueReason> {
    let Some(secret) = i.secret else {
        return Some(IssueReason::DoesNotExist);
    };
    let leaf = match &secret.leaf {
        Ok(leaf) => leaf,
        Err(why) => return Some(IssueReason::InvalidSecret(why.clone())),
    };
    let key = match &secret.key {
        Ok(key) => key,
        Err(why) => return Some(IssueReason::InvalidSecret(why.clone())),
    };
    if spki_sha256_hex(&leaf.spki_der) != key.spki_sha256 {
        return Some(IssueReason::IncorrectKey);
    }
    if let Some(why) = DesiredNames::of(i.spec).mismatch(leaf) {
        return Some(IssueReason::IncorrectCertificate(why));
    }
    if secret.annotation(labels::REQUEST_HASH) != Some(request_hash(i.spec).as_str())
        || !key.satisfies(i.spec.private_key.algorithm, i.spec.private_key.size)
    {
        return Some(IssueReason::SpecChanged);
    }
    if let Some(check) = i.issued_check
        && let Some(state) = &check.terminal_state
        && check.serial.as_deref() == Some(leaf.serial_hex.as_str())
    {
        return Some(IssueReason::InvalidInTlm {
            serial: leaf.serial_hex.clone(),
            state: state.clone(),
        });
    }
    if i.now >= leaf.not_after {
        return Some(IssueReason::Expired);
    }
    if i.now >= renewal_time(i.spec, leaf.not_before, leaf.not_after) {
        return Some(IssueReason::Renewing);
    }
    None
}

fn issuer_wait(i: &Inputs<'_>, reason: &IssueReason) -> Option<StatusChange> {
    let message = match i.issuer {
        IssuerView::Ready(_) | IssuerView::Unchecked => return None,
        IssuerView::NotFound { kind, name } => format!("{kind:?} {name} does not exist"),
        IssuerView::NotReady { reason, message } => format!("issuer is not ready ({reason}): {message}"),
    };
    let ready = if reason.keeps_serving() {
        ConditionSpec::new(
            true,
            "Ready",
            "Certificate is valid; renewal waits for the issuer",
        )
    } else {
        ConditionSpec::new(
            false,
            "IssuerNotReady",
            format!("Waiting for the issuer: {message}"),
        )
    };
    Some(StatusChange {
        ready,
        issuing: Some(ConditionSpec::new(
            false,
            "IssuerNotReady",
            format!("{}; {message}", reason.message(&i.spec.secret_name)),
        )),
        // An issuer change triggers a reconcile; this is only a safety net.
        requeue_after: Duration::from_secs(300),
    })
}

fn failure_backoff_remaining(i: &Inputs<'_>) -> Option<Duration> {
    let attempts = i.status.failed_issuance_attempts.unwrap_or(0);
    let last = i.status.last_failure_time.as_ref()?.0;
    // A spec change since the failure clears the backoff.
    if attempts <= 0 || i.status.observed_generation != Some(i.generation) {
        return None;
    }
    let backoff = failure_backoff(attempts as u32);
    let retry_at = last + SignedDuration::try_from(backoff).ok()?;
    (i.now < retry_at).then(|| until(i.now, retry_at))
}

/// Pause after the n-th consecutive permanent failure: 5m, 10m, 20m ... capped at 24h.
pub fn failure_backoff(attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(16));
    FAILURE_BACKOFF_BASE
        .saturating_mul(factor)
        .min(FAILURE_BACKOFF_MAX)
}

/// How long to wait between polls of a pending request: a quarter of its age, between 2s and
/// 1h, so a request approved in seconds is seen in seconds and one pending for days is polled
/// hourly.
pub fn poll_interval(age: Duration) -> Duration {
    (age / 4).clamp(Duration::from_secs(2), Duration::from_secs(3600))
}

fn poll_wait(i: &Inputs<'_>, submitted_at: Timestamp) -> Option<Duration> {
    let last = i.last_poll?;
    let age = until(submitted_at, i.now);
    let due = last + SignedDuration::try_from(poll_interval(age)).ok()?;
    (i.now < due).then(|| until(i.now, due))
}

fn renew_serial(i: &Inputs<'_>, reason: &IssueReason) -> Option<String> {
    if *reason != IssueReason::Renewing {
        return None;
    }
    let IssuerView::Ready(issuer) = i.issuer else {
        return None;
    };
    let secret = i.secret?;
    let leaf = secret.matched_leaf()?;
    // Only a certificate this issuer gave us can be renewed through it.
    let same_issuer = secret.annotation(labels::ISSUER_NAME) == Some(i.spec.issuer_ref.name.as_str())
        && secret.annotation(labels::ISSUER_KIND) == Some(format!("{:?}", i.spec.issuer_ref.kind).as_str());
    let window = SignedDuration::from_hours(24 * issuer.renewal_period_days?);
    (same_issuer && i.now >= leaf.not_after - window).then(|| leaf.serial_hex.clone())
}

fn status_reflects_secret(i: &Inputs<'_>, renew_at: Timestamp) -> bool {
    let s = i.status;
    let Some(leaf) = i.secret.and_then(TargetSecret::matched_leaf) else {
        return false;
    };
    let ready = conditions::find(&s.conditions, READY)
        .is_some_and(|c| c.status == "True" && c.observed_generation == Some(i.generation));
    let issuing_settled = conditions::find(&s.conditions, ISSUING).is_none_or(|c| c.status == "False");
    ready
        && issuing_settled
        && s.serial_number.as_deref() == Some(leaf.serial_hex.as_str())
        // The CT monitor trusts this record of our keys; an older status gains it by a sync.
        && s.public_key_sha256.as_deref() == Some(spki_sha256_hex(&leaf.spki_der).as_str())
        && s.not_after.as_ref().map(|t| t.0) == Some(leaf.not_after)
        && s.renewal_time.as_ref().map(|t| t.0) == Some(renew_at)
        && s.observed_generation == Some(i.generation)
}

fn secret_layout_drift(i: &Inputs<'_>) -> bool {
    let Some(secret) = i.secret else { return false };
    if !secret.managed || !secret.has_ca {
        return true;
    }
    let template = i.spec.secret_template.clone().unwrap_or_default();
    let labels_ok = template
        .labels
        .iter()
        .all(|(k, v)| secret.labels.get(k) == Some(v));
    let annotations_ok = template
        .annotations
        .iter()
        .all(|(k, v)| secret.annotations.get(k) == Some(v));
    let issuer_ok = secret.annotation(labels::ISSUER_NAME) == Some(i.spec.issuer_ref.name.as_str());
    let formats: Vec<OutputFormat> = i.spec.additional_output_formats.clone().unwrap_or_default();
    let wanted_keys: Vec<&str> = formats.iter().map(|f| output_key(*f)).collect();
    let extra_keys_ok = super::secret::OPTIONAL_KEYS
        .iter()
        .all(|k| secret.data_keys.contains(*k) == wanted_keys.contains(k));
    !(labels_ok && annotations_ok && issuer_ok && extra_keys_ok)
}

/// The Secret key an extra output format is written to.
pub fn output_key(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::CombinedPEM => "tls-combined.pem",
        OutputFormat::DER => "key.der",
        OutputFormat::PKCS7 => "tls.p7c",
    }
}

fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests;
