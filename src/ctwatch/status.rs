//! A CTWatch's status after a poll, as a pure function of the old status and what was judged.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::api::conditions::{self, ConditionValue};
use crate::api::{CTWatchStatus, JudgedIssuance, READY, Verdict};

/// After a successful poll: the cursor moves to `cursor`, the judged issuances (oldest first)
/// are counted and the newest `limit` kept in `recent`, newest first.
pub fn after_success(
    old: &CTWatchStatus,
    judged: &[JudgedIssuance],
    cursor: Option<String>,
    now: Timestamp,
    next_poll: Timestamp,
    limit: usize,
    generation: Option<i64>,
) -> CTWatchStatus {
    let mut status = old.clone();
    status.cursor = cursor.or(status.cursor);
    status.last_poll_time = Some(Time(now));
    status.next_poll_time = Some(Time(next_poll));
    status.issuances_seen += judged.len() as i64;
    status.unexpected_issuances += judged.iter().filter(|j| j.verdict == Verdict::Unexpected).count() as i64;
    let mut recent: Vec<JudgedIssuance> = judged.iter().rev().cloned().collect();
    recent.extend(old.recent.iter().cloned());
    recent.truncate(limit);
    status.recent = recent;
    status.observed_generation = generation;
    let message = format!(
        "Polled; {} issuances judged so far, {} unexpected",
        status.issuances_seen, status.unexpected_issuances
    );
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
}
