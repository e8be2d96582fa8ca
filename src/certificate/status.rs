//! Writing a Certificate's status and Events. Status writes replace the whole status with the
//! object's `resourceVersion` as precondition, so a write based on a stale read fails (409)
//! instead of overwriting a newer outcome.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use super::decide::ConditionSpec;
use super::observe::Observation;
use crate::api::conditions::{self, ConditionValue};
use crate::api::{Certificate, CertificateStatus, ISSUING, READY};
use crate::context::Context;

/// Applies `change` to the status and writes it when anything changed. Returns whether it wrote.
pub async fn write_status(
    ctx: &Context,
    obs: &mut Observation,
    change: impl FnOnce(&mut CertificateStatus),
) -> Result<bool, kube::Error> {
    let old = obs.cert.status.clone().unwrap_or_default();
    let mut new = old.clone();
    change(&mut new);
    never_without_ready(&mut new, &obs.cert);
    if new == old {
        return Ok(false);
    }
    let mut cert = obs.cert.clone();
    cert.status = Some(new);
    let api: Api<Certificate> = Api::namespaced(ctx.client.clone(), &cert.namespace().unwrap_or_default());
    obs.cert = api
        .replace_status(&cert.name_any(), &PostParams::default(), &cert)
        .await?;
    Ok(true)
}

/// A first issuance writes no status until something happens (a wait, a failure, the
/// certificate): whatever that first write is, it also says the Certificate is not Ready, as the
/// Issuing condition explains.
fn never_without_ready(status: &mut CertificateStatus, cert: &Certificate) {
    if conditions::find(&status.conditions, READY).is_some() {
        return;
    }
    let ready = match conditions::find(&status.conditions, ISSUING) {
        Some(issuing) if issuing.status == "False" => {
            ConditionSpec::new(false, &issuing.reason, issuing.message.clone())
        }
        _ => ConditionSpec::new(
            false,
            "DoesNotExist",
            format!(
                "Issuing certificate as Secret {} does not exist",
                cert.spec.secret_name
            ),
        ),
    };
    set_condition(status, READY, &ready, cert.metadata.generation);
}

/// Sets one condition on a status being built.
pub fn set_condition(
    status: &mut CertificateStatus,
    type_: &str,
    spec: &ConditionSpec,
    generation: Option<i64>,
) {
    conditions::upsert(
        &mut status.conditions,
        ConditionValue {
            type_,
            status: spec.status,
            reason: &spec.reason,
            message: spec.message.clone(),
            observed_generation: generation,
        },
        &Time(Timestamp::now()),
    );
}

/// The current reason of a condition, if set.
pub fn reason_of(cert: &Certificate, type_: &str) -> Option<String> {
    cert.status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, type_))
        .map(|c| c.reason.clone())
}

/// Records an Event on the Certificate. Event failures are logged, never fatal.
pub async fn event(ctx: &Context, cert: &Certificate, warning: bool, reason: &str, note: String) {
    ctx.publish_event(&cert.object_ref(&()), warning, "Issue", reason, note)
        .await;
}
