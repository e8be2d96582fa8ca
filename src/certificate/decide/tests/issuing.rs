//! First issuance: keys, submits, polls, approval profiles, Secrets this Certificate may not
//! write.

use super::*;

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
