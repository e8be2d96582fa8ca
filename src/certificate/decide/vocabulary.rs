//! The vocabulary of `decide`: what it is given, the steps it chooses and the status changes
//! it asks for.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api::{CertificateSpec, CertificateStatus};
use crate::certificate::observed::{IssuerView, NextKey, TargetSecret};

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
