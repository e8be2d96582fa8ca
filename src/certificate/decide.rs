//! The Certificate lifecycle as a pure function: from what is observed to the one next step.
//! `reconcile.rs` performs the step, writes its outcome, observes again and asks again.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::observed::{IssuerView, TargetSecret};
use super::renewal::renewal_time;
use super::spec::{DesiredNames, request_hash};
use crate::api::{ISSUING, OutputFormat, READY, RotationPolicy, conditions};
use crate::labels;
use crate::pki::spki_sha256_hex;

mod timing;
mod vocabulary;

#[cfg(test)]
use timing::FAILURE_BACKOFF_MAX;
pub use timing::{failure_backoff, poll_interval};
use timing::{failure_backoff_remaining, poll_wait, until};
pub use vocabulary::*;

/// Longest sleep between checks of an up-to-date certificate (re-verifies the Secret).
const MAX_IDLE: Duration = Duration::from_secs(10 * 3600);

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

#[cfg(test)]
mod tests;
