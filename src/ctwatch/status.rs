//! A CTWatch's status after a poll, as a pure function of the old status and what was judged.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::conditions::{self, Condition, ConditionValue};
use crate::api::{CTWatchStatus, JudgedIssuance, READY, Verdict};

/// Longest string kept in a `recent` entry field: the values come from the CT source, which a
/// tenant chooses, and the whole status must stay far below the object size limit.
pub const MAX_FIELD_CHARS: usize = 256;
/// DNS names kept per `recent` entry.
pub const MAX_NAMES_PER_ENTRY: usize = 20;

/// After a successful poll: the cursor moves to `cursor`, the judged issuances (oldest first)
/// are counted and the newest `limit` kept in `recent`, newest first, each bounded in size.
/// `note`, when given, is appended to the condition message (e.g. a clamped wait).
#[allow(clippy::too_many_arguments)]
pub fn after_success(
    old: &CTWatchStatus,
    judged: &[JudgedIssuance],
    cursor: Option<String>,
    now: Timestamp,
    next_poll: Timestamp,
    limit: usize,
    generation: Option<i64>,
    note: Option<&str>,
) -> CTWatchStatus {
    let mut status = old.clone();
    status.cursor = cursor.or(status.cursor);
    status.last_poll_time = Some(Time(now));
    status.next_poll_time = Some(Time(next_poll));
    status.issuances_seen += judged.len() as i64;
    status.unexpected_issuances += judged.iter().filter(|j| j.verdict == Verdict::Unexpected).count() as i64;
    let mut recent: Vec<JudgedIssuance> = judged.iter().rev().take(limit).map(bounded).collect();
    recent.extend(old.recent.iter().cloned());
    recent.truncate(limit);
    status.recent = recent;
    status.observed_generation = generation;
    let mut message = format!(
        "Polled; {} issuances judged so far, {} unexpected",
        status.issuances_seen, status.unexpected_issuances
    );
    if let Some(note) = note {
        message.push_str("; ");
        message.push_str(note);
    }
    conditions::upsert(
        &mut status.conditions,
        ConditionValue {
            type_: READY,
            status: true,
            reason: "Polled",
            message,
            observed_generation: generation,
        },
        &Time(now),
    );
    status
}

/// After a failed poll: the cursor stays, the condition says why, the next poll is scheduled.
pub fn after_failure(
    old: &CTWatchStatus,
    reason: &str,
    message: String,
    now: Timestamp,
    next_poll: Timestamp,
    generation: Option<i64>,
) -> CTWatchStatus {
    let mut status = old.clone();
    status.next_poll_time = Some(Time(next_poll));
    status.observed_generation = generation;
    conditions::upsert(
        &mut status.conditions,
        ConditionValue {
            type_: READY,
            status: false,
            reason,
            message,
            observed_generation: generation,
        },
        &Time(now),
    );
    status
}

/// A `recent` entry with every source-given string cut to [`MAX_FIELD_CHARS`] and at most
/// [`MAX_NAMES_PER_ENTRY`] names.
pub fn bounded(entry: &JudgedIssuance) -> JudgedIssuance {
    let cap = |s: &String| s.chars().take(MAX_FIELD_CHARS).collect::<String>();
    let cap_opt = |s: &Option<String>| s.as_ref().map(cap);
    JudgedIssuance {
        id: cap(&entry.id),
        dns_names: entry
            .dns_names
            .iter()
            .take(MAX_NAMES_PER_ENTRY)
            .map(cap)
            .collect(),
        issuer: cap_opt(&entry.issuer),
        not_before: cap_opt(&entry.not_before),
        not_after: cap_opt(&entry.not_after),
        tbs_sha256: cap_opt(&entry.tbs_sha256),
        pubkey_sha256: cap_opt(&entry.pubkey_sha256),
        evidence_sha256: cap_opt(&entry.evidence_sha256),
        verdict: entry.verdict,
        reason: cap(&entry.reason),
    }
}

/// The conditions of a watch whose poll did not happen on schedule: `Ready=False, Overdue`,
/// saying since when it was due. Only the conditions change, so this can be written while a
/// cycle for the watch is still running without touching its cursor.
pub fn overdue_conditions(
    old: &CTWatchStatus,
    due_since: Timestamp,
    now: Timestamp,
    generation: Option<i64>,
) -> Vec<Condition> {
    let mut conditions = old.conditions.clone();
    let last = old
        .last_poll_time
        .as_ref()
        .map_or("never".to_string(), |t| t.0.to_string());
    conditions::upsert(
        &mut conditions,
        ConditionValue {
            type_: READY,
            status: false,
            reason: OVERDUE,
            message: format!(
                "Overdue since {due_since}: the poll of its source has not finished (last successful poll: {last})"
            ),
            observed_generation: generation,
        },
        &Time(now),
    );
    conditions
}

/// Condition reason of a watch that missed its schedule.
pub const OVERDUE: &str = "Overdue";

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(id: &str, verdict: Verdict) -> JudgedIssuance {
        JudgedIssuance {
            id: id.into(),
            verdict,
            reason: "x".into(),
            tbs_sha256: Some(format!("tbs{id}")),
            ..Default::default()
        }
    }

    #[test]
    fn counts_and_recent_are_bounded_newest_first() {
        let t = Timestamp::from_second(1_800_000_000).unwrap();
        let first = after_success(
            &CTWatchStatus::default(),
            &[judged("1", Verdict::Expected), judged("2", Verdict::Unexpected)],
            Some("2".into()),
            t,
            t,
            3,
            Some(1),
            None,
        );
        assert_eq!((first.issuances_seen, first.unexpected_issuances), (2, 1));
        assert_eq!(
            first.recent.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["2", "1"]
        );
        let second = after_success(
            &first,
            &[judged("3", Verdict::Unexpected), judged("4", Verdict::Expected)],
            Some("4".into()),
            t,
            t,
            3,
            Some(1),
            None,
        );
        assert_eq!(
            second.recent.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["4", "3", "2"]
        );
        assert_eq!((second.issuances_seen, second.unexpected_issuances), (4, 2));
        assert_eq!(second.cursor.as_deref(), Some("4"));
        let failed = after_failure(&second, "QuotaExceeded", "429".into(), t, t, Some(1));
        assert_eq!(
            failed.cursor.as_deref(),
            Some("4"),
            "a failure does not move the cursor"
        );
        assert!(!conditions::is_true(&failed.conditions, READY));
    }

    #[test]
    fn recent_entries_are_bounded_in_size() {
        let t = Timestamp::from_second(1_800_000_000).unwrap();
        let huge = JudgedIssuance {
            id: "1".into(),
            dns_names: (0..1000).map(|i| format!("{i}.{}", "x".repeat(5000))).collect(),
            issuer: Some("y".repeat(100_000)),
            verdict: Verdict::Unexpected,
            reason: "x".into(),
            ..Default::default()
        };
        let status = after_success(
            &CTWatchStatus::default(),
            &[huge],
            None,
            t,
            t,
            5,
            None,
            Some("note"),
        );
        let entry = &status.recent[0];
        assert_eq!(entry.dns_names.len(), MAX_NAMES_PER_ENTRY);
        assert!(
            entry
                .dns_names
                .iter()
                .all(|n| n.chars().count() <= MAX_FIELD_CHARS)
        );
        assert_eq!(entry.issuer.as_ref().map(|i| i.len()), Some(MAX_FIELD_CHARS));
        assert!(conditions::find(&status.conditions, READY).is_some_and(|c| c.message.ends_with("; note")));
        let overdue = overdue_conditions(&status, t, t, None);
        let ready = conditions::find(&overdue, READY).expect("Ready");
        assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", OVERDUE));
        assert!(ready.message.contains("since"));
    }
}
