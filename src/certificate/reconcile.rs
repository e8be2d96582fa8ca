//! The reconcile loop: observe, decide, do one step, and again with what the step wrote, until
//! there is nothing left to do now.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use rand::Rng;

use super::cached::CachedCertificate;
use super::decide::{Inputs, Step, decide};
use super::observe::{Observation, issuer_of};
use super::observed::IssuerView;
use super::secret::first_key_name;
use super::steps;
use super::wakeups::Next;
use crate::api::Certificate;
use crate::backend::registry::CredentialError;
use crate::clients::error::ServiceError;
use crate::context::Context;
use crate::labels::{FIELD_MANAGER, REVOKE_FINALIZER};
use crate::pki::PkiError;

pub const CONTROLLER: &str = "certificate";
/// Steps one reconcile may take before yielding (a full immediate issuance takes six).
const MAX_STEPS: usize = 12;

/// What a step leaves to the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Requeue(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The issuer's service (TLM...) failed.
    #[error("{0}")]
    Service(ServiceError),
    #[error("{0}")]
    Pki(PkiError),
    #[error("issuer credentials: {0}")]
    Credentials(CredentialError),
    #[error("internal: {0}")]
    Internal(String),
}

impl ReconcileError {
    fn reason(&self) -> &'static str {
        match self {
            ReconcileError::Kube(kube::Error::Api(e)) if e.code == 409 => "Conflict",
            ReconcileError::Kube(_) => "KubernetesAPI",
            ReconcileError::Service(e) => e.reason(),
            ReconcileError::Pki(_) => "Pki",
            ReconcileError::Credentials(e) => e.reason(),
            ReconcileError::Internal(_) => "Internal",
        }
    }
}

/// One pass, with a panic caught and reported as an ordinary (retried) failure. The next pass
/// is the Certificate's own timer (`wakeups`), not kube's scheduler.
pub async fn reconcile(cached: Arc<CachedCertificate>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let cert = Arc::new(
        cached
            .unpack()
            .map_err(|e| ReconcileError::Internal(format!("unpack cached Certificate: {e}")))?,
    );
    let metrics = ctx.metrics.clone();
    let next = crate::supervise::catching(
        CONTROLLER,
        &metrics,
        reconcile_pass(cert.clone(), ctx.clone()),
        |m| Err(ReconcileError::Internal(format!("panic: {m}"))),
    )
    .await?;
    wake(&ctx, &*cert, next);
    Ok(Action::await_change())
}

fn wake<K: Resource>(ctx: &Context, cert: &K, next: Next) {
    ctx.wakeups
        .set(&cert.namespace().unwrap_or_default(), &cert.name_any(), next);
}

async fn reconcile_pass(cert: Arc<Certificate>, ctx: Arc<Context>) -> Result<Next, ReconcileError> {
    ctx.metrics.reconciled(CONTROLLER);
    let issuer = issuer_of(&cert, &ctx);
    let revoke_wanted = cert
        .spec
        .revoke_on_delete
        .or(issuer.as_ref().ok().and_then(|i| i.revoke_on_delete))
        .unwrap_or(false);
    let has_finalizer = cert.finalizers().iter().any(|f| f == REVOKE_FINALIZER);
    if cert.meta().deletion_timestamp.is_some() {
        if has_finalizer {
            if revoke_wanted && let Ok(issuer) = issuer.as_ref() {
                super::revoke::revoke_current(&cert, &ctx, issuer).await?;
            }
            set_finalizer(&cert, &ctx, false).await?;
        }
        ctx.memory.forget(&cert.uid().unwrap_or_default());
        ctx.issued_checks.forget(&cert.uid().unwrap_or_default());
        ctx.config.keys.forget(&cert.uid().unwrap_or_default());
        return Ok(Next::OnChange);
    }
    if revoke_wanted != has_finalizer {
        set_finalizer(&cert, &ctx, revoke_wanted).await?;
        // The update comes back as a watch event and a new reconcile.
        return Ok(Next::OnChange);
    }

    let view = match &issuer {
        Ok(i) => i.view.clone(),
        Err(view) => view.clone(),
    };
    let mut obs = Observation::cached(&cert, &ctx);
    for _ in 0..MAX_STEPS {
        let target = obs.target();
        let next_key = obs.next();
        let status = obs.cert.status.clone().unwrap_or_default();
        let memory = ctx.memory.get(&obs.uid());
        let now = Timestamp::now();
        let serial = target
            .as_ref()
            .and_then(|t| t.matched_leaf())
            .map(|l| l.serial_hex.as_str());
        let issued_check = ctx.issued_checks.view(&obs.uid(), serial, now);
        let holder = secret_holder(&ctx, &obs.cert);
        let first_key = obs
            .cert
            .uid()
            .map(|uid| first_key_name(&obs.cert.name_any(), &uid));
        let name = obs.cert.name_any();
        let step = decide(&Inputs {
            name: &name,
            spec: &obs.cert.spec,
            generation: obs.cert.metadata.generation.unwrap_or_default(),
            status: &status,
            secret: target.as_ref(),
            next_key: next_key.as_ref(),
            issuer: &view,
            now,
            last_poll: memory.last_poll,
            issued_check: issued_check.as_ref(),
            secret_held_by: holder.as_deref(),
            first_key_name: first_key.as_deref(),
        });
        if let Step::Idle { requeue_after } = step {
            if next_key.is_none() && memory.is_empty_but_for_failures() {
                // No issuance in flight: nothing here is worth keeping for 10,000 idle
                // Certificates (and a pass that ends in a decision ends the failure streak).
                ctx.memory.forget(&obs.uid());
            } else if memory.transient_failures > 0 {
                // A pass that ends in a decision, not an error, ends the failure streak.
                ctx.memory.update(&obs.uid(), |m| m.transient_failures = 0);
            }
            return Ok(Next::After(jitter(requeue_after)));
        }
        if !obs.fresh {
            // Act only on what the API server says now, not on a cache that may lag our own
            // last write.
            match Observation::fresh(&ctx, &cert.namespace().unwrap_or_default(), &cert.name_any()).await? {
                Some(fresh) => obs = fresh,
                None => return Ok(Next::OnChange),
            }
            continue;
        }
        tracing::debug!(certificate = %cert.name_any(), ?step, "step");
        let flow = match step {
            Step::Idle { .. } => unreachable!("handled above"),
            Step::SyncStatus(change) => steps::sync_status(&ctx, &mut obs, &change).await?,
            Step::WaitForIssuer(change) => steps::wait_for_issuer(&ctx, &mut obs, &change).await?,
            Step::Refuse(change) => steps::refuse(&ctx, &mut obs, &change).await?,
            Step::BeginIssuance { reason } => steps::begin_issuance(&ctx, &mut obs, &reason).await?,
            Step::CreateNextKey {
                name,
                reuse_current_key,
            } => steps::create_next_key(&ctx, &mut obs, &name, reuse_current_key).await?,
            Step::DiscardNextKey { name } => steps::discard_next_key(&ctx, &mut obs, &name).await?,
            Step::Submit {
                renew_serial,
                mark_first,
                in_flight_since,
            } => {
                steps::submit(
                    &ctx,
                    &mut obs,
                    ready_issuer(&issuer)?,
                    renew_serial,
                    mark_first,
                    in_flight_since,
                )
                .await?
            }
            Step::CheckIssued { serial } => {
                steps::check_issued(&ctx, &mut obs, ready_issuer(&issuer)?, &serial).await?
            }
            Step::Poll { serial } => steps::poll(&ctx, &mut obs, ready_issuer(&issuer)?, &serial).await?,
            Step::Pickup { request_id } => {
                steps::pickup(&ctx, &mut obs, ready_issuer(&issuer)?, &request_id).await?
            }
            Step::Finalize => {
                let note = validity_note_of(&obs, &issuer);
                steps::finalize(&ctx, &mut obs, note).await?
            }
            Step::Cleanup => steps::cleanup(&ctx, &mut obs).await?,
            Step::RepairSecret => steps::repair_secret(&ctx, &mut obs, issuer.as_ref()).await?,
        };
        if let Flow::Requeue(after) = flow {
            return Ok(Next::After(jitter(after)));
        }
    }
    Ok(Next::After(Duration::from_millis(100)))
}

/// The oldest other Certificate in the namespace with the same `secretName`, if it is older
/// than this one: the first to claim a Secret name keeps it, so a newcomer cannot take over a
/// Secret in use (and two Certificates never re-order against each other on every pass).
fn secret_holder(ctx: &Context, cert: &Certificate) -> Option<String> {
    // Runs on every pass over every Certificate in the scope: compare in place under the
    // store's lock and clone only the rivals (`state()` would clone and drop an `Arc` for each
    // of 10,000 Certificates on every pass).
    fn created(c: &ObjectMeta) -> (Option<Timestamp>, Option<&str>) {
        (c.creation_timestamp.as_ref().map(|t| t.0), c.name.as_deref())
    }
    let mine = created(&cert.metadata);
    ctx.certificates
        .state_filter(|c| {
            *c.secret_name == *cert.spec.secret_name
                && c.metadata.namespace == cert.metadata.namespace
                && c.metadata.uid != cert.metadata.uid
                && c.metadata.deletion_timestamp.is_none()
                && created(&c.metadata) < mine
        })
        .iter()
        .map(|c| created(&c.metadata))
        .min()
        .and_then(|(_, name)| name.map(str::to_string))
}

/// Says in status when the profile's own validity replaced the requested one.
fn validity_note_of(
    obs: &Observation,
    issuer: &Result<super::observe::IssuerRefd, IssuerView>,
) -> Option<String> {
    let issuer = issuer.as_ref().ok()?;
    let IssuerView::Ready(_) = &issuer.view else {
        return None;
    };
    steps::backend_spec_of(issuer).validity_note(&obs.cert.spec)
}

fn ready_issuer(
    issuer: &Result<super::observe::IssuerRefd, IssuerView>,
) -> Result<&super::observe::IssuerRefd, ReconcileError> {
    issuer
        .as_ref()
        .map_err(|_| ReconcileError::Internal("issuer vanished while issuing".into()))
}

/// Transient failures: exponential backoff with jitter per Certificate, never sooner than a
/// `Retry-After`.
pub fn error_policy(cert: Arc<CachedCertificate>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    let uid = cert.uid().unwrap_or_default();
    let mut failures = 0;
    ctx.memory.update(&uid, |m| {
        m.transient_failures = m.transient_failures.saturating_add(1);
        failures = m.transient_failures;
    });
    ctx.metrics.reconcile_failed(CONTROLLER, error.reason());
    let backoff = Duration::from_millis(500)
        .saturating_mul(1 << failures.min(10))
        .min(Duration::from_secs(300));
    let retry_after = match error {
        ReconcileError::Service(e) => e.retry_after().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    tracing::warn!(certificate = %cert.name_any(), namespace = ?cert.namespace(), %error, failures, "reconcile failed; will retry");
    wake(&ctx, &*cert, Next::After(jitter(backoff).max(retry_after)));
    Action::await_change()
}

/// ±10% so that many Certificates issued together do not renew in lockstep.
fn jitter(d: Duration) -> Duration {
    let factor = rand::rng().random_range(0.9..1.1);
    d.mul_f64(factor)
}

pub(super) async fn set_finalizer(
    cert: &Certificate,
    ctx: &Context,
    present: bool,
) -> Result<(), kube::Error> {
    let mut finalizers: Vec<String> = cert
        .finalizers()
        .iter()
        .filter(|f| *f != REVOKE_FINALIZER)
        .cloned()
        .collect();
    if present {
        finalizers.push(REVOKE_FINALIZER.to_string());
    }
    let api: Api<Certificate> = Api::namespaced(ctx.client.clone(), &cert.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": cert.resource_version(), "finalizers": finalizers }
    });
    api.patch(
        &cert.name_any(),
        &PatchParams::apply(FIELD_MANAGER),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}
