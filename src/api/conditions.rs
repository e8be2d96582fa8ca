//! The status condition shared by every resource: Kubernetes' own `metav1.Condition`, kept in a
//! list-map keyed by `type`, plus the helpers that keep `lastTransitionTime` honest.

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The condition every resource reports: whether it is usable right now.
pub const READY: &str = "Ready";
/// Certificate only: an issuance is in progress.
pub const ISSUING: &str = "Issuing";

/// `status` of a condition as Kubernetes spells it.
pub fn status_str(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// A condition value without the timestamp, which `upsert` fills in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionValue<'a> {
    pub type_: &'a str,
    pub status: bool,
    pub reason: &'a str,
    pub message: String,
    pub observed_generation: Option<i64>,
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the condition of that type exists and is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

/// Sets a condition, keeping `lastTransitionTime` when the status did not change (so a resync
/// that only rewords a message does not look like a transition). Returns true when anything
/// changed.
pub fn upsert(conditions: &mut Vec<Condition>, value: ConditionValue<'_>, now: &Time) -> bool {
    let status = status_str(value.status);
    match conditions.iter_mut().find(|c| c.type_ == value.type_) {
        Some(existing) => {
            let unchanged = existing.status == status
                && existing.reason == value.reason
                && existing.message == value.message
                && existing.observed_generation == value.observed_generation;
            if unchanged {
                return false;
            }
            if existing.status != status {
                existing.last_transition_time = now.clone();
            }
            existing.status = status.to_string();
            existing.reason = value.reason.to_string();
            existing.message = value.message;
            existing.observed_generation = value.observed_generation;
            true
        }
        None => {
            conditions.push(Condition {
                type_: value.type_.to_string(),
                status: status.to_string(),
                reason: value.reason.to_string(),
                message: value.message,
                observed_generation: value.observed_generation,
                last_transition_time: now.clone(),
            });
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    fn ready(status: bool, reason: &str, message: &str) -> ConditionValue<'static> {
        ConditionValue {
            type_: READY,
            status,
            reason: Box::leak(reason.to_string().into_boxed_str()),
            message: message.to_string(),
            observed_generation: Some(1),
        }
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut conditions = Vec::new();
        assert!(upsert(
            &mut conditions,
            ready(false, "Pending", "waiting"),
            &at(10)
        ));
        assert!(upsert(
            &mut conditions,
            ready(false, "Pending", "still waiting"),
            &at(20)
        ));
        assert_eq!(conditions[0].last_transition_time, at(10));
        assert!(upsert(&mut conditions, ready(true, "Issued", "ok"), &at(30)));
        assert_eq!(conditions[0].last_transition_time, at(30));
        assert_eq!(conditions.len(), 1);
        assert!(is_true(&conditions, READY));
    }

    #[test]
    fn identical_value_is_not_a_change() {
        let mut conditions = Vec::new();
        upsert(&mut conditions, ready(true, "Issued", "ok"), &at(10));
        assert!(!upsert(&mut conditions, ready(true, "Issued", "ok"), &at(99)));
        assert_eq!(conditions[0].last_transition_time, at(10));
    }
}
