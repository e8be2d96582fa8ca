use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::api::{
    Certificate, CertificateStatus, ConditionValue, KeyAlgorithm, PendingRequest, SecretTemplate,
};
use crate::certificate::observed::{IssuerView, KeyFacts, NextKey, ReadyIssuer, TargetSecret};
use crate::certificate::secret::target_secret;
use crate::certificate::spec::tests::spec;
use crate::pki::test_ca::chain_with;
use crate::pki::{LeafInfo, PrivateKey};

const NOW: i64 = 1_800_000_000;

fn submit(renew_serial: Option<String>) -> Step {
    Step::Submit {
        renew_serial,
        mark_first: false,
        in_flight_since: None,
    }
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

struct World {
    cert: Certificate,
    secret: Option<TargetSecret>,
    next_key: Option<NextKey>,
    issuer: IssuerView,
    now: Timestamp,
    last_poll: Option<Timestamp>,
    issued_check: Option<IssuedCheck>,
    secret_held_by: Option<String>,
    first_key_name: Option<String>,
}

impl World {
    fn new() -> Self {
        let mut cert = Certificate::new("web", spec(&["web.example.com"]));
        cert.metadata = ObjectMeta {
            name: Some("web".into()),
            namespace: Some("ns".into()),
            generation: Some(1),
            uid: Some("uid-1".into()),
            ..Default::default()
        };
        cert.status = Some(CertificateStatus::default());
        Self {
            cert,
            secret: None,
            next_key: None,
            issuer: IssuerView::Ready(ReadyIssuer {
                renewal_period_days: Some(30),
                revoke_on_delete: false,
                may_need_approval: false,
                validity_override: true,
                profile_validity: None,
            }),
            now: at(NOW),
            last_poll: None,
            issued_check: None,
            secret_held_by: None,
            first_key_name: None,
        }
    }

    /// Puts a certificate valid from `from` to `to` (seconds relative to NOW) into the Secret.
    fn with_issued(mut self, from: i64, to: i64) -> Self {
        let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
        let names: Vec<&str> = self
            .cert
            .spec
            .dns_names
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        let chain = chain_with(&names, key, Some((NOW + from, NOW + to)));
        let leaf = LeafInfo::parse(&chain.chain[0]).unwrap();
        let secret = target_secret(&self.cert, &chain.leaf_key, &chain.chain, &leaf).unwrap();
        self.secret = Some(TargetSecret::parse(&secret));
        self
    }

    fn status(&mut self) -> &mut CertificateStatus {
        self.cert.status.as_mut().unwrap()
    }

    fn decide(&self) -> Step {
        decide(&Inputs {
            name: "web",
            spec: &self.cert.spec,
            generation: self.cert.metadata.generation.unwrap(),
            status: self.cert.status.as_ref().unwrap(),
            secret: self.secret.as_ref(),
            next_key: self.next_key.as_ref(),
            issuer: &self.issuer,
            now: self.now,
            last_poll: self.last_poll,
            issued_check: self.issued_check.as_ref(),
            secret_held_by: self.secret_held_by.as_deref(),
            first_key_name: self.first_key_name.as_deref(),
        })
    }

    /// Makes the status say what a finished issuance of the Secret's certificate says.
    fn settle_status(mut self) -> Self {
        let leaf = self.secret.as_ref().unwrap().matched_leaf().unwrap().clone();
        let generation = self.cert.metadata.generation;
        let renew_at =
            crate::certificate::renewal::renewal_time(&self.cert.spec, leaf.not_before, leaf.not_after);
        let status = self.status();
        crate::api::conditions::upsert(
            &mut status.conditions,
            ConditionValue {
                type_: READY,
                status: true,
                reason: "Ready",
                message: "ok".into(),
                observed_generation: generation,
            },
            &Time(at(NOW)),
        );
        status.serial_number = Some(leaf.serial_hex.clone());
        status.public_key_sha256 = Some(crate::pki::spki_sha256_hex(&leaf.spki_der));
        status.not_after = Some(Time(leaf.not_after));
        status.renewal_time = Some(Time(renew_at));
        status.observed_generation = generation;
        self
    }

    fn key_facts() -> KeyFacts {
        KeyFacts::of(&PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap())
    }
}

#[test]
fn new_certificate_begins_issuance() {
    let w = World::new();
    assert_eq!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::DoesNotExist
        }
    );
}

#[test]
fn issuer_not_ready_waits_without_creating_anything() {
    let mut w = World::new();
    w.issuer = IssuerView::NotReady {
        reason: "Unauthorized".into(),
        message: "bad key".into(),
    };
    let Step::WaitForIssuer(change) = w.decide() else {
        panic!()
    };
    assert!(!change.ready.status);
    assert_eq!(change.ready.reason, "IssuerNotReady");
    assert!(change.ready.message.contains("Unauthorized"));
}

#[test]
fn key_name_is_recorded_before_the_key_is_created() {
    let mut w = World::new();
    w.status().next_private_key_secret_name = Some("web-abcde".into());
    assert_eq!(
        w.decide(),
        Step::CreateNextKey {
            name: "web-abcde".into(),
            reuse_current_key: false
        }
    );
}

#[test]
fn recorded_key_is_submitted_then_polled() {
    let mut w = World::new();
    w.status().next_private_key_secret_name = Some("web-abcde".into());
    let facts = World::key_facts();
    w.next_key = Some(NextKey {
        name: "web-abcde".into(),
        facts: Some(facts.clone()),
        created: None,
    });
    assert_eq!(w.decide(), submit(None));
    w.status().pending_request = Some(Box::new(PendingRequest {
        serial_number: Some("AB".into()),
        pickup_request_id: None,
        public_key_sha256: facts.spki_sha256.clone(),
        generation: 1,
        submitted_at: Time(at(NOW - 60)),
        polls: 0,
    }));
    assert_eq!(w.decide(), Step::Poll { serial: "AB".into() });
    // Polled 5s ago; a 60s-old request is polled every 15s.
    w.last_poll = Some(at(NOW - 5));
    assert_eq!(
        w.decide(),
        Step::Idle {
            requeue_after: Duration::from_secs(10)
        }
    );
}

#[test]
fn request_for_an_older_generation_or_other_key_is_resubmitted() {
    let mut w = World::new();
    let facts = World::key_facts();
    w.status().next_private_key_secret_name = Some("web-abcde".into());
    w.next_key = Some(NextKey {
        name: "web-abcde".into(),
        facts: Some(facts.clone()),
        created: None,
    });
    w.status().pending_request = Some(Box::new(PendingRequest {
        serial_number: Some("AB".into()),
        pickup_request_id: None,
        public_key_sha256: facts.spki_sha256.clone(),
        generation: 0,
        submitted_at: Time(at(NOW)),
        polls: 0,
    }));
    assert_eq!(w.decide(), submit(None));
    w.status().pending_request.as_mut().unwrap().generation = 1;
    w.status().pending_request.as_mut().unwrap().public_key_sha256 = "other".into();
    assert_eq!(w.decide(), submit(None));
}

#[test]
fn next_key_that_no_longer_fits_is_discarded() {
    let mut w = World::new();
    w.status().next_private_key_secret_name = Some("web-abcde".into());
    w.next_key = Some(NextKey {
        name: "web-abcde".into(),
        facts: Some(World::key_facts()),
        created: None,
    });
    w.cert.spec.private_key.algorithm = KeyAlgorithm::RSA;
    assert_eq!(
        w.decide(),
        Step::DiscardNextKey {
            name: "web-abcde".into()
        }
    );
    w.next_key.as_mut().unwrap().facts = None;
    assert_eq!(
        w.decide(),
        Step::DiscardNextKey {
            name: "web-abcde".into()
        }
    );
}

#[test]
fn fresh_certificate_needs_only_a_status_sync_then_nothing() {
    let w = World::new().with_issued(-3600, 90 * 86400);
    assert!(matches!(w.decide(), Step::SyncStatus(_)));
    let w = w.settle_status();
    let Step::Idle { requeue_after } = w.decide() else {
        panic!("expected Idle, got {:?}", w.decide())
    };
    assert_eq!(
        requeue_after, MAX_IDLE,
        "renewal is far away; re-check at the idle cap"
    );
}

#[test]
fn renewal_time_triggers_renewal_through_the_renew_endpoint_inside_the_window() {
    // 90 days, issued 61 days ago: past 2/3, inside the 30-day renewal window.
    let w = World::new().with_issued(-61 * 86400, 29 * 86400).settle_status();
    assert_eq!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::Renewing
        }
    );
    let mut w = w;
    w.status().next_private_key_secret_name = Some("web-x".into());
    w.next_key = Some(NextKey {
        name: "web-x".into(),
        facts: Some(World::key_facts()),
        created: None,
    });
    let serial = w
        .secret
        .as_ref()
        .unwrap()
        .matched_leaf()
        .unwrap()
        .serial_hex
        .clone();
    assert_eq!(w.decide(), submit(Some(serial)));
}

#[test]
fn renewal_outside_the_window_submits_a_new_request() {
    // 360 days, 2/3 passed, 120 days left: outside a 30-day window.
    let mut w = World::new()
        .with_issued(-240 * 86400, 120 * 86400)
        .settle_status();
    w.status().next_private_key_secret_name = Some("web-x".into());
    w.next_key = Some(NextKey {
        name: "web-x".into(),
        facts: Some(World::key_facts()),
        created: None,
    });
    assert_eq!(w.decide(), submit(None));
}

#[test]
fn spec_change_and_tampering_trigger_reissue() {
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    w.cert
        .spec
        .dns_names
        .as_mut()
        .unwrap()
        .push("api.example.com".into());
    w.cert.metadata.generation = Some(2);
    assert!(matches!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::IncorrectCertificate(_)
        }
    ));

    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    let other = World::new().with_issued(-3600, 90 * 86400);
    // tls.crt from another issuance: key mismatch.
    w.secret.as_mut().unwrap().leaf = other.secret.unwrap().leaf;
    assert_eq!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::IncorrectKey
        }
    );

    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    w.secret.as_mut().unwrap().leaf = Err("tls.crt: not valid PEM".into());
    assert!(matches!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::InvalidSecret(_)
        }
    ));

    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    w.cert.spec.duration = Some(Duration::from_secs(7200).into());
    assert_eq!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::SpecChanged
        }
    );
}

#[test]
fn layout_only_changes_repair_the_secret_without_reissuing() {
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    w.cert.spec.secret_template = Some(Box::new(SecretTemplate {
        labels: [("team".to_string(), "web".to_string())].into(),
        ..Default::default()
    }));
    assert_eq!(w.decide(), Step::RepairSecret);
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    w.cert.spec.additional_output_formats = Some(vec![OutputFormat::DER]);
    assert_eq!(w.decide(), Step::RepairSecret);
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    w.cert.spec.private_key.encoding = crate::api::KeyEncoding::PKCS8;
    assert!(
        !matches!(w.decide(), Step::BeginIssuance { .. }),
        "encoding alone does not re-order"
    );
}

#[test]
fn finished_issuance_is_finalized_and_leftovers_cleaned() {
    let mut w = World::new().with_issued(-60, 90 * 86400);
    let serial = w
        .secret
        .as_ref()
        .unwrap()
        .matched_leaf()
        .unwrap()
        .serial_hex
        .clone();
    w.status().next_private_key_secret_name = Some("web-x".into());
    w.status().pending_request = Some(Box::new(PendingRequest {
        serial_number: Some(serial),
        pickup_request_id: None,
        public_key_sha256: "k".into(),
        generation: 1,
        submitted_at: Time(at(NOW - 60)),
        polls: 0,
    }));
    assert_eq!(w.decide(), Step::Finalize);
    // Immediate issuance records no pending serial: the new serial in the Secret is enough.
    w.status().pending_request = None;
    assert_eq!(w.decide(), Step::Finalize);
    // The Secret holds the certificate the status already knows: nothing was issued here.
    let serial = w
        .secret
        .as_ref()
        .unwrap()
        .matched_leaf()
        .unwrap()
        .serial_hex
        .clone();
    w.status().serial_number = Some(serial);
    assert_eq!(w.decide(), Step::Cleanup);
}

#[test]
fn rotation_never_reuses_a_fitting_key() {
    let mut w = World::new().with_issued(-61 * 86400, 29 * 86400).settle_status();
    w.cert.spec.private_key.rotation_policy = crate::api::RotationPolicy::Never;
    w.status().next_private_key_secret_name = Some("web-x".into());
    assert_eq!(
        w.decide(),
        Step::CreateNextKey {
            name: "web-x".into(),
            reuse_current_key: true
        }
    );
}

#[test]
fn permanent_failures_back_off_until_the_spec_changes() {
    let mut w = World::new();
    w.status().failed_issuance_attempts = Some(2);
    w.status().last_failure_time = Some(Time(at(NOW - 60)));
    w.status().observed_generation = Some(1);
    assert_eq!(
        w.decide(),
        Step::Idle {
            requeue_after: Duration::from_secs(600 - 60)
        }
    );
    w.cert.metadata.generation = Some(2);
    assert_eq!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::DoesNotExist
        }
    );
}

#[test]
fn backoff_and_poll_intervals_grow_and_cap() {
    assert_eq!(failure_backoff(1), Duration::from_secs(300));
    assert_eq!(failure_backoff(3), Duration::from_secs(1200));
    assert_eq!(failure_backoff(40), FAILURE_BACKOFF_MAX);
    assert_eq!(poll_interval(Duration::from_secs(1)), Duration::from_secs(2));
    assert_eq!(poll_interval(Duration::from_secs(400)), Duration::from_secs(100));
    assert_eq!(
        poll_interval(Duration::from_secs(3 * 86400)),
        Duration::from_secs(3600)
    );
}

#[test]
fn expired_certificate_is_reissued_and_not_ready_while_issuer_is_down() {
    let mut w = World::new().with_issued(-90 * 86400, -60).settle_status_expired();
    assert_eq!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::Expired
        }
    );
    w.issuer = IssuerView::NotFound {
        kind: crate::api::IssuerKind::Issuer,
        name: "tlm".into(),
    };
    let Step::WaitForIssuer(change) = w.decide() else {
        panic!()
    };
    assert!(!change.ready.status, "an expired certificate is not Ready");
}

impl World {
    fn settle_status_expired(self) -> Self {
        self
    }
}

#[test]
fn unchecked_issuer_is_waited_for_quietly() {
    let mut w = World::new();
    w.issuer = IssuerView::Unchecked;
    assert_eq!(
        w.decide(),
        Step::Idle {
            requeue_after: Duration::from_secs(5)
        }
    );
}

#[test]
fn approval_profiles_record_the_submit_first_and_recover_an_unanswered_one() {
    let mut w = World::new();
    if let IssuerView::Ready(r) = &mut w.issuer {
        r.may_need_approval = true;
    }
    let facts = World::key_facts();
    w.status().next_private_key_secret_name = Some("web-abcde".into());
    w.next_key = Some(NextKey {
        name: "web-abcde".into(),
        facts: Some(facts.clone()),
        created: None,
    });
    assert_eq!(
        w.decide(),
        Step::Submit {
            renew_serial: None,
            mark_first: true,
            in_flight_since: None
        }
    );
    // The record says a submit went out and nothing came back (a crash): find it, do not
    // simply order again.
    w.status().pending_request = Some(Box::new(PendingRequest {
        serial_number: None,
        pickup_request_id: None,
        public_key_sha256: facts.spki_sha256.clone(),
        generation: 1,
        submitted_at: Time(at(NOW - 600)),
        polls: 0,
    }));
    assert_eq!(
        w.decide(),
        Step::Submit {
            renew_serial: None,
            mark_first: false,
            in_flight_since: Some(at(NOW - 600))
        }
    );
    w.status().pending_request.as_mut().unwrap().pickup_request_id = Some("req-1".into());
    assert_eq!(
        w.decide(),
        Step::Pickup {
            request_id: "req-1".into()
        }
    );
}

#[test]
fn issued_certificate_is_checked_in_tlm_when_due_and_reissued_when_revoked() {
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    let serial = w
        .secret
        .as_ref()
        .unwrap()
        .matched_leaf()
        .unwrap()
        .serial_hex
        .clone();
    w.issued_check = Some(IssuedCheck {
        serial: Some(serial.clone()),
        due: at(NOW + 100),
        terminal_state: None,
    });
    assert_eq!(
        w.decide(),
        Step::Idle {
            requeue_after: Duration::from_secs(100)
        }
    );
    w.issued_check.as_mut().unwrap().due = at(NOW - 1);
    assert_eq!(
        w.decide(),
        Step::CheckIssued {
            serial: serial.clone()
        }
    );
    // No check while the issuer cannot answer.
    let ready = w.issuer.clone();
    w.issuer = IssuerView::NotReady {
        reason: "Unreachable".into(),
        message: "down".into(),
    };
    assert!(matches!(w.decide(), Step::Idle { .. }));
    w.issuer = ready;
    w.issued_check = Some(IssuedCheck {
        serial: Some(serial.clone()),
        due: at(NOW + 100),
        terminal_state: Some("suspended".into()),
    });
    let step = w.decide();
    assert_eq!(
        step,
        Step::BeginIssuance {
            reason: IssueReason::InvalidInTlm {
                serial: serial.clone(),
                state: "suspended".into()
            }
        }
    );
    let Step::BeginIssuance { reason } = step else {
        unreachable!()
    };
    assert_eq!(reason.reason(), "SuspendedInTLM");
    assert!(!reason.keeps_serving());
    // A verdict about another serial says nothing about this one.
    w.issued_check.as_mut().unwrap().serial = Some("0123".into());
    assert!(matches!(w.decide(), Step::Idle { .. }));
}

#[test]
fn a_secret_this_certificate_may_not_write_is_refused_before_anything_is_ordered() {
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    let refused = |w: &World| match w.decide() {
        Step::Refuse(change) => change.ready.reason,
        other => panic!("expected Refuse, got {other:?}"),
    };
    // Written for another Certificate.
    w.secret
        .as_mut()
        .unwrap()
        .labels
        .insert(labels::CERTIFICATE_NAME.into(), "other".into());
    w.secret
        .as_mut()
        .unwrap()
        .annotations
        .insert(labels::CERTIFICATE_NAME.into(), "other".into());
    assert_eq!(refused(&w), "SecretNotOwned");
    // Opened to this Certificate by the Secret's owner.
    w.secret
        .as_mut()
        .unwrap()
        .annotations
        .insert(labels::ALLOW_CERTIFICATE.into(), "web".into());
    assert!(!matches!(w.decide(), Step::Refuse(_)));
    // Someone else's Secret with no operator label at all.
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    w.secret.as_mut().unwrap().managed = false;
    assert_eq!(refused(&w), "SecretNotOwned");
    // Another type: even an opt-in cannot change a Secret's type.
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    w.secret.as_mut().unwrap().secret_type = Some("Opaque".into());
    assert_eq!(refused(&w), "SecretTypeMismatch");
    // An older Certificate holds the Secret name.
    let mut w = World::new();
    w.secret_held_by = Some("first".into());
    let Step::Refuse(change) = w.decide() else {
        panic!()
    };
    assert_eq!(change.ready.reason, "DuplicateSecretName");
    assert!(change.ready.message.contains("first"));
}

fn next_key_named(name: &str) -> NextKey {
    let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
    NextKey {
        name: name.into(),
        facts: Some(KeyFacts::of(&key)),
        created: None,
    }
}

#[test]
fn a_first_issuance_creates_its_key_without_writing_status_first() {
    let mut w = World::new();
    w.first_key_name = Some("web-first".into());
    assert_eq!(
        w.decide(),
        Step::CreateNextKey {
            name: "web-first".into(),
            reuse_current_key: false
        }
    );
    w.next_key = Some(next_key_named("web-first"));
    assert_eq!(w.decide(), submit(None));
}

#[test]
fn a_certificate_issued_before_records_its_next_key_name_first() {
    let mut w = World::new();
    w.first_key_name = Some("web-first".into());
    w.status().revision = Some(1);
    assert!(matches!(
        w.decide(),
        Step::BeginIssuance {
            reason: IssueReason::DoesNotExist
        }
    ));
}

#[test]
fn a_first_key_left_beside_a_delivered_certificate_is_finalized() {
    let mut w = World::new().with_issued(-10, 90 * 86400);
    w.first_key_name = Some("web-first".into());
    w.next_key = Some(next_key_named("web-first"));
    assert_eq!(w.decide(), Step::Finalize);
}

#[test]
fn a_first_key_is_used_even_when_the_reason_to_issue_changed() {
    // The first issuance wrote the Secret, then the spec changed before it was finalized.
    let mut w = World::new().with_issued(-10, 90 * 86400);
    w.cert.spec.dns_names = Some(vec!["other.example.com".into()]);
    w.first_key_name = Some("web-first".into());
    w.next_key = Some(next_key_named("web-first"));
    assert!(
        matches!(w.decide(), Step::Submit { .. }),
        "the first key is used, not left behind: {:?}",
        w.decide()
    );
}
