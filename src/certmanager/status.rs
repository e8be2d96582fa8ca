//! Writes to a CertificateRequest: its `Ready` condition (with `failureTime`, `certificate`
//! and `ca` where they apply) through the status subresource, and our order annotation. Every
//! write is a JSON merge patch carrying the observed `resourceVersion`, so a write based on a
//! stale read is refused instead of overwriting (cert-manager writes these objects too).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::api::{CertificateRequest, READY, RequestCondition};
use super::record::{ORDER_ANNOTATION, OrderRecord};
use crate::context::Context;

/// The `Ready` condition to set, and what comes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyUpdate {
    pub ready: bool,
    pub reason: &'static str,
    pub message: String,
    /// Terminal: `failureTime` is set.
    pub failed: bool,
    /// PEM chain (leaf first) and PEM CA, on issuance.
    pub issued: Option<(String, String)>,
}

impl ReadyUpdate {
    pub fn not_ready(reason: &'static str, message: String, failed: bool) -> Self {
        Self {
            ready: false,
            reason,
            message,
            failed,
            issued: None,
        }
    }
}

/// The conditions after the update: others kept as they are, `Ready` replaced (its
/// `lastTransitionTime` kept when its status does not change). None when nothing changes.
pub fn conditions_after(
    cr: &CertificateRequest,
    update: &ReadyUpdate,
    now: Timestamp,
) -> Option<Vec<RequestCondition>> {
    let status = if update.ready { "True" } else { "False" };
    let old = cr.condition(READY);
    if update.issued.is_none()
        && !update.failed
        && old.is_some_and(|c| {
            c.status == status
                && c.reason.as_deref() == Some(update.reason)
                && c.message.as_deref() == Some(update.message.as_str())
        })
    {
        return None;
    }
    let transition = old
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let mut conditions: Vec<RequestCondition> = cr
        .conditions()
        .iter()
        .filter(|c| c.type_ != READY)
        .cloned()
        .collect();
    conditions.push(RequestCondition {
        type_: READY.into(),
        status: status.into(),
        reason: Some(update.reason.into()),
        message: Some(update.message.clone()),
        last_transition_time: Some(transition),
        observed_generation: cr.metadata.generation,
    });
    Some(conditions)
}

fn api(ctx: &Context, cr: &CertificateRequest) -> Api<CertificateRequest> {
    Api::namespaced(ctx.client.clone(), &cr.namespace().unwrap_or_default())
}

/// Sets `Ready` (and what comes with it); returns the request as stored.
pub async fn set_ready(
    ctx: &Context,
    cr: &CertificateRequest,
    update: ReadyUpdate,
) -> Result<CertificateRequest, kube::Error> {
    let now = Timestamp::now();
    let Some(conditions) = conditions_after(cr, &update, now) else {
        return Ok(cr.clone());
    };
    let mut status = json!({ "conditions": conditions });
    if update.failed {
        status["failureTime"] = json!(Time(now));
    }
    if let Some((chain, ca)) = &update.issued {
        status["certificate"] = json!(STANDARD.encode(chain));
        status["ca"] = json!(STANDARD.encode(ca));
    }
    let patch = json!({
        "metadata": { "resourceVersion": cr.resource_version() },
        "status": status,
    });
    api(ctx, cr)
        .patch_status(&cr.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
}

/// Writes (or with `None` removes) the order annotation; returns the request as stored.
pub async fn write_record(
    ctx: &Context,
    cr: &CertificateRequest,
    record: Option<&OrderRecord>,
) -> Result<CertificateRequest, kube::Error> {
    let patch = json!({
        "metadata": {
            "resourceVersion": cr.resource_version(),
            "annotations": { ORDER_ANNOTATION: record.map(OrderRecord::to_json) },
        }
    });
    api(ctx, cr)
        .patch(&cr.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
}

/// Records an Event on the request; a failure to record is only logged.
pub async fn event(ctx: &Context, cr: &CertificateRequest, warning: bool, reason: &str, note: String) {
    ctx.publish_event(&cr.object_ref(&()), warning, "Issue", reason, note)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certmanager::api::CertificateRequestStatus;

    #[test]
    fn ready_is_replaced_and_others_kept_and_unchanged_writes_nothing() {
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().unwrap();
        let mut cr = CertificateRequest {
            status: Some(CertificateRequestStatus {
                conditions: vec![RequestCondition {
                    type_: "Approved".into(),
                    status: "True".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let pending = ReadyUpdate::not_ready("Pending", "waiting".into(), false);
        let conditions = conditions_after(&cr, &pending, now).unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[0].type_, "Approved");
        assert_eq!(conditions[1].reason.as_deref(), Some("Pending"));
        cr.status.as_mut().unwrap().conditions = conditions;
        assert_eq!(conditions_after(&cr, &pending, now), None, "no change, no write");
        let later: Timestamp = "2026-11-23T13:00:00Z".parse().unwrap();
        let other = ReadyUpdate::not_ready("Pending", "still waiting".into(), false);
        let kept = conditions_after(&cr, &other, later).unwrap();
        assert_eq!(
            kept[1].last_transition_time,
            Some(Time(now)),
            "same status keeps its time"
        );
    }
}
