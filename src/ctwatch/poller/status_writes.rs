//! The poller's status writes: only when something changed, and never fatal (a failed write
//! makes the watch back off).

use super::*;

impl Running {
    /// Writes the status when it changed; false when the write failed (the watch then backs
    /// off instead of being polled again at the next tick).
    pub(super) async fn write_status(
        &self,
        watch: &CTWatch,
        old: &CTWatchStatus,
        new: &CTWatchStatus,
    ) -> bool {
        if old == new {
            return true;
        }
        let patch = serde_json::json!({ "status": new });
        self.patch_status(watch, &patch).await
    }

    pub(super) async fn patch_status(&self, watch: &CTWatch, patch: &serde_json::Value) -> bool {
        let api: Api<CTWatch> =
            Api::namespaced(self.poller.client.clone(), &watch.namespace().unwrap_or_default());
        let id = watch_id(watch);
        match api
            .patch_status(
                &watch.name_any(),
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Merge(patch),
            )
            .await
        {
            Ok(_) => {
                self.write_backoff.succeeded(&id);
                true
            }
            Err(e) => {
                tracing::warn!(watch = %watch.name_any(), error = %e, "could not write CTWatch status");
                self.write_backoff.failed(id);
                false
            }
        }
    }
}
