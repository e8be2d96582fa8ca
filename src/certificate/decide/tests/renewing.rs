//! Once issued: renewal, reissue on spec change or tampering, layout repairs, failures and
//! backoff, checks in the backend.

use super::*;

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
    let serial = w.issued_serial();
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
    let serial = w.issued_serial();
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
    let serial = w.issued_serial();
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

#[test]
fn issued_certificate_is_checked_in_tlm_when_due_and_reissued_when_revoked() {
    let mut w = World::new().with_issued(-3600, 90 * 86400).settle_status();
    let serial = w.issued_serial();
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
