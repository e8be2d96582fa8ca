//! A group's failures: watches reported `Overdue` when a cycle runs late, and the status a
//! failed cycle leaves (conditions, backoff).

use super::*;

impl Running {
    /// Members of a group still polling whose poll is more than an interval late: Ready=False,
    /// Overdue, once.
    pub(super) async fn mark_overdue(&self, members: &[CTWatch], now: Timestamp) {
        for watch in members {
            let status = watch.status.clone().unwrap_or_default();
            // Due at the scheduled time; a watch never polled was due when it was created.
            let due = status
                .next_poll_time
                .as_ref()
                .or(watch.meta().creation_timestamp.as_ref())
                .map(|t| t.0);
            let Some(due) = due else { continue };
            let grace = next_poll_in(watch, self.poller.config.interval_cap, None);
            if after(due, grace) > now
                || conditions::find(&status.conditions, READY).is_some_and(|c| c.reason == OVERDUE)
            {
                continue;
            }
            let conditions = overdue_conditions(&status, due, now, watch.meta().generation);
            let patch = serde_json::json!({ "status": { "conditions": conditions } });
            self.patch_status(watch, &patch).await;
        }
    }

    pub(super) async fn fail(&self, members: &[&CTWatch], statuses: &[CTWatchStatus], e: &CycleError) {
        tracing::warn!(reason = e.reason, error = %e.message, watches = members.len(), "CT poll failed");
        for (watch, status) in members.iter().zip(statuses) {
            let new = self.failed_status(watch, status, e);
            self.write_status(watch, status, &new).await;
        }
    }

    /// A failure written when the cycle's own statuses are out of reach (its deadline passed):
    /// only the condition and the next poll time, so a cursor committed meanwhile stays.
    pub(super) async fn fail_conditions(&self, members: &[&CTWatch], e: &CycleError) {
        tracing::warn!(reason = e.reason, error = %e.message, watches = members.len(), "CT poll failed");
        for watch in members {
            let status = watch.status.clone().unwrap_or_default();
            let new = self.failed_status(watch, &status, e);
            let patch = serde_json::json!({ "status": {
                "conditions": new.conditions, "nextPollTime": new.next_poll_time } });
            self.patch_status(watch, &patch).await;
        }
    }

    pub(super) fn failed_status(
        &self,
        watch: &CTWatch,
        status: &CTWatchStatus,
        e: &CycleError,
    ) -> CTWatchStatus {
        let retry_after = e.retry_after.wait;
        let wait = next_poll_in(watch, self.poller.config.interval_cap, retry_after)
            .min(FAILURE_RETRY.max(retry_after.unwrap_or_default()))
            .min(MAX_SERVICE_WAIT);
        let now = Timestamp::now();
        after_failure(
            status,
            e.reason,
            e.full_message(),
            now,
            after(now, wait),
            watch.meta().generation,
        )
    }
}
