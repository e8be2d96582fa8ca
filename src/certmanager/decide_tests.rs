use super::*;
use crate::certmanager::api::{CertificateRequestStatus, RequestCondition};
use crate::certmanager::csr::{parse_request, tests::request_for};

fn cr(group: &str, conditions: &[(&str, &str, &str)]) -> CertificateRequest {
    let mut cr: CertificateRequest = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "r", "namespace": "app"},
        "spec": {"request": "", "issuerRef": {"name": "tlm", "kind": "Issuer", "group": group}}
    }))
    .unwrap();
    cr.status = Some(CertificateRequestStatus {
        conditions: conditions
            .iter()
            .map(|(t, s, r)| RequestCondition {
                type_: t.to_string(),
                status: s.to_string(),
                reason: Some(r.to_string()),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    });
    cr
}

fn approved() -> CertificateRequest {
    cr("tlm.certops.dev", &[("Approved", "True", "cert-manager.io")])
}

fn csr_ok() -> Result<CsrFacts, String> {
    parse_request(&request_for(&["a.example.com"], false).0)
}

fn ready(validity_override: bool) -> IssuerState {
    IssuerState::Ready(ReadyProfile {
        may_need_approval: false,
        validity_override,
        profile_validity: Some("365 days".into()),
        issuer_validity: None,
    })
}

fn run(cr: &CertificateRequest, issuer: &IssuerState, record: Result<Option<OrderRecord>, String>) -> Action {
    let csr = csr_ok();
    decide(&Inputs {
        cr,
        csr: &csr,
        issuer,
        record: &record,
    })
}

fn now() -> Timestamp {
    "2026-11-23T12:00:00Z".parse().unwrap()
}

#[test]
fn other_groups_and_unapproved_requests_are_left_alone() {
    let foreign = cr("cert-manager.io", &[("Approved", "True", "x")]);
    assert_eq!(run(&foreign, &ready(true), Ok(None)), Action::Nothing);
    let waiting = cr("tlm.certops.dev", &[]);
    assert_eq!(run(&waiting, &ready(true), Ok(None)), Action::Nothing);
}

#[test]
fn a_denied_request_is_marked_denied_once() {
    let denied = cr("tlm.certops.dev", &[("Denied", "True", "policy")]);
    assert_eq!(run(&denied, &ready(true), Ok(None)), Action::Deny);
    let done = cr(
        "tlm.certops.dev",
        &[("Denied", "True", "policy"), ("Ready", "False", "Denied")],
    );
    assert_eq!(run(&done, &ready(true), Ok(None)), Action::Nothing);
}

#[test]
fn finished_requests_are_not_processed_again() {
    for reason in ["Issued", "Failed", "InvalidRequest"] {
        let status = if reason == "Issued" { "True" } else { "False" };
        let done = cr(
            "tlm.certops.dev",
            &[("Approved", "True", "x"), ("Ready", status, reason)],
        );
        assert_eq!(run(&done, &ready(true), Ok(None)), Action::Nothing, "{reason}");
    }
    let pending = cr(
        "tlm.certops.dev",
        &[("Approved", "True", "x"), ("Ready", "False", "Pending")],
    );
    assert!(matches!(run(&pending, &ready(true), Ok(None)), Action::Submit(_)));
}

#[test]
fn ca_requests_and_bad_durations_are_invalid() {
    let mut ca = approved();
    ca.spec.is_ca = Some(true);
    assert!(matches!(run(&ca, &ready(true), Ok(None)), Action::Refuse(m) if m.contains("isCA")));
    let mut bad = approved();
    bad.spec.duration = Some("forever".into());
    assert!(matches!(run(&bad, &ready(true), Ok(None)), Action::Refuse(m) if m.contains("duration")));
    let csr: Result<CsrFacts, String> = Err("spec.request is not base64".into());
    let action = decide(&Inputs {
        cr: &approved(),
        csr: &csr,
        issuer: &ready(true),
        record: &Ok(None),
    });
    assert_eq!(action, Action::Refuse("spec.request is not base64".into()));
}

#[test]
fn an_issuer_that_is_not_ready_leaves_the_request_pending_with_the_reason() {
    let not_ready = IssuerState::NotReady {
        what: "Issuer app/tlm".into(),
        reason: "SecretNotFound".into(),
        message: "Secret app/k not found".into(),
    };
    match run(&approved(), &not_ready, Ok(None)) {
        Action::WaitForIssuer(m, wait) => {
            assert_eq!(wait, ISSUER_RECHECK);
            assert!(m.contains("SecretNotFound") && m.contains("app/tlm"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        run(&approved(), &IssuerState::NotFound("Issuer app/x".into()), Ok(None)),
        Action::WaitForIssuer(m, _) if m.contains("not found")
    ));
    assert!(matches!(
        run(&approved(), &IssuerState::Unchecked("Issuer app/x".into()), Ok(None)),
        Action::WaitForIssuer(_, wait) if wait == ISSUER_UNCHECKED_RECHECK
    ));
}

#[test]
fn duration_is_sent_only_when_the_profile_allows_it() {
    let mut r = approved();
    r.spec.duration = Some("36h".into());
    let Action::Submit(s) = run(&r, &ready(true), Ok(None)) else {
        panic!()
    };
    assert_eq!(
        s.validity,
        Some(ValidityWire {
            unit: "days".into(),
            duration: 2
        })
    );
    assert_eq!(s.note, None);
    let Action::Submit(s) = run(&r, &ready(false), Ok(None)) else {
        panic!()
    };
    assert_eq!(s.validity, None);
    assert!(s.note.unwrap().contains("365 days"));
}

#[test]
fn a_recorded_order_is_followed_never_ordered_again() {
    let mut record = OrderRecord::in_flight("prof", now());
    assert!(matches!(
        run(&approved(), &ready(true), Ok(Some(record.clone()))),
        Action::Recover { since, .. } if since == now()
    ));
    record.request_id = Some("req".into());
    assert_eq!(
        run(&approved(), &ready(true), Ok(Some(record.clone()))),
        Action::Pickup {
            request_id: "req".into(),
            profile_id: "prof".into()
        }
    );
    record.serial_number = Some("0A".into());
    assert_eq!(
        run(&approved(), &ready(true), Ok(Some(record))),
        Action::Poll { serial: "0A".into() }
    );
    assert!(matches!(
        run(&approved(), &ready(true), Err("bad".into())),
        Action::Fail(_)
    ));
}

#[test]
fn a_lost_answer_waits_for_approval_profiles_and_reorders_for_immediate_ones() {
    let since = now();
    let later = |secs: i64| since + k8s_openapi::jiff::SignedDuration::from_secs(secs);
    assert_eq!(after_search_miss(false, since, later(5)), Miss::Reorder);
    assert_eq!(
        after_search_miss(true, since, later(400)),
        Miss::Wait(Duration::from_secs(100))
    );
    assert_eq!(after_search_miss(true, since, later(25 * 3600)), Miss::Reorder);
    assert_eq!(retry_after(0), Duration::from_secs(5));
    assert_eq!(retry_after(20), Duration::from_secs(300));
}
