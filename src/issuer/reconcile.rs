//! Issuer and ClusterIssuer reconcile: read the API key, read the TLM profile (or, for
//! CertCentral, list one order with the key), report `Ready`.
//! The API key Secret is re-read every 30s (one GET; the operator does not watch Secrets it does
//! not own), and TLM is asked again only when the issuer or its credentials changed, the last
//! check failed, or ten minutes passed.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::checks::LastCheck;
use super::health::{Health, judge, judge_certcentral, judge_qualys};
use crate::api::conditions::{self, ConditionValue};
use crate::api::{ClusterIssuer, Issuer, IssuerBackendConfig, IssuerKind, IssuerLike, IssuerStatus, READY};
use crate::backend::registry::IssuerKey;
use crate::clients::certcentral_orders::OrderQuery;
use crate::context::Context;
use crate::labels::FIELD_MANAGER;

const RECHECK_SECRET: Duration = Duration::from_secs(30);
const RECHECK_TLM: Duration = Duration::from_secs(600);

/// The two issuer kinds, seen the same way.
pub trait IssuerResource:
    Resource<DynamicType = ()> + IssuerLike + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static
{
    const KIND: IssuerKind;
    /// The API for this object's scope.
    fn api_of(&self, client: kube::Client) -> Api<Self>;
}

impl IssuerResource for Issuer {
    const KIND: IssuerKind = IssuerKind::Issuer;
    fn api_of(&self, client: kube::Client) -> Api<Self> {
        Api::namespaced(client, &self.namespace().unwrap_or_default())
    }
}

impl IssuerResource for ClusterIssuer {
    const KIND: IssuerKind = IssuerKind::ClusterIssuer;
    fn api_of(&self, client: kube::Client) -> Api<Self> {
        Api::all(client)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("writing issuer status: {0}")]
    Status(#[source] kube::Error),
    #[error("internal: {0}")]
    Internal(String),
}

pub fn key_of<K: IssuerResource>(issuer: &K) -> IssuerKey {
    IssuerKey {
        kind: K::KIND,
        namespace: issuer.namespace(),
        name: issuer.name_any(),
    }
}

/// One health check, with a panic caught and reported as an ordinary (retried) failure.
pub async fn reconcile<K: IssuerResource>(issuer: Arc<K>, ctx: Arc<Context>) -> Result<Action, IssuerError> {
    let metrics = ctx.metrics.clone();
    crate::supervise::catching(controller_name(K::KIND), &metrics, check(issuer, ctx), |m| {
        Err(IssuerError::Internal(format!("panic: {m}")))
    })
    .await
}

async fn check<K: IssuerResource>(issuer: Arc<K>, ctx: Arc<Context>) -> Result<Action, IssuerError> {
    ctx.metrics.reconciled(controller_name(K::KIND));
    let key = key_of(issuer.as_ref());
    let generation = issuer.meta().generation;
    let health = match issuer.backend_config() {
        None => Health::not_ready(
            "InvalidConfiguration",
            "set exactly one of spec.tlm, spec.certCentral and spec.qualysCertView",
        ),
        Some(IssuerBackendConfig::Tlm(tlm)) => match ctx.registry.refresh(&ctx.client, &key, &tlm).await {
            Err(e) => Health::not_ready(e.reason(), e.to_string()),
            Ok(refreshed) => {
                if unchanged(&ctx, &key, &refreshed.fingerprint, generation) {
                    return Ok(Action::requeue(RECHECK_SECRET));
                }
                let read = refreshed.client.profile(&tlm.profile_id).await;
                let health = judge(&tlm.profile_id, read);
                remember(&ctx, &key, refreshed.fingerprint, generation, &health);
                health
            }
        },
        Some(IssuerBackendConfig::CertCentral(cc)) => {
            match ctx.registry.refresh_certcentral(&ctx.client, &key, &cc).await {
                Err(e) => Health::not_ready(e.reason(), e.to_string()),
                Ok(refreshed) => {
                    if unchanged(&ctx, &key, &refreshed.fingerprint, generation) {
                        return Ok(Action::requeue(RECHECK_SECRET));
                    }
                    let query = OrderQuery {
                        limit: 1,
                        ..Default::default()
                    };
                    let read = refreshed.client.list_orders(&query).await.map(|(page, _)| page);
                    let health = judge_certcentral(&cc, read);
                    remember(&ctx, &key, refreshed.fingerprint, generation, &health);
                    health
                }
            }
        }
        Some(IssuerBackendConfig::QualysCertView(q)) => {
            match ctx.registry.refresh_qualys(&ctx.client, &key, &q).await {
                Err(e) => Health::not_ready(e.reason(), e.to_string()),
                Ok(refreshed) => {
                    if unchanged(&ctx, &key, &refreshed.fingerprint, generation) {
                        return Ok(Action::requeue(RECHECK_SECRET));
                    }
                    let health = judge_qualys(&q, refreshed.client.authenticate().await);
                    remember(&ctx, &key, refreshed.fingerprint, generation, &health);
                    health
                }
            }
        }
    };
    write_status(issuer.as_ref(), &ctx, &health).await?;
    Ok(Action::requeue(RECHECK_SECRET))
}

/// The service was asked recently about exactly this issuer and credentials, and said yes.
fn unchanged(ctx: &Context, key: &IssuerKey, fingerprint: &str, generation: Option<i64>) -> bool {
    ctx.issuer_checks.last(key).is_some_and(|last| {
        last.ready
            && last.fingerprint == fingerprint
            && last.generation == generation
            && last.at.elapsed() < RECHECK_TLM
    })
}

fn remember(ctx: &Context, key: &IssuerKey, fingerprint: String, generation: Option<i64>, health: &Health) {
    ctx.issuer_checks.record(
        key.clone(),
        LastCheck {
            fingerprint,
            generation,
            at: Instant::now(),
            ready: health.ready,
        },
    );
}

async fn write_status<K: IssuerResource>(
    issuer: &K,
    ctx: &Context,
    health: &Health,
) -> Result<(), IssuerError> {
    let old = issuer.issuer_status().cloned().unwrap_or_default();
    let mut new = old.clone();
    let generation = issuer.meta().generation;
    let was_ready = conditions::is_true(&old.conditions, READY);
    let now = Time(Timestamp::now());
    conditions::upsert(
        &mut new.conditions,
        ConditionValue {
            type_: READY,
            status: health.ready,
            reason: health.reason,
            message: health.message.clone(),
            observed_generation: generation,
        },
        &now,
    );
    if health.profile.is_some() || health.ready {
        new.profile = health.profile.clone();
    }
    if health.cert_central.is_some() || health.ready {
        new.cert_central = health.cert_central.clone();
    }
    if health.qualys.is_some() || health.ready {
        new.qualys_cert_view = health.qualys.clone();
    }
    new.observed_generation = generation;
    if new == old {
        return Ok(());
    }
    let api = issuer.api_of(ctx.client.clone());
    let patch = serde_json::json!({ "status": status_json(&new) });
    api.patch_status(
        &issuer.name_any(),
        &PatchParams::apply(FIELD_MANAGER),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(IssuerError::Status)?;
    let old_reason = conditions::find(&old.conditions, READY).map(|c| c.reason.clone());
    if was_ready != health.ready || old_reason.as_deref() != Some(health.reason) {
        ctx.publish_event(
            &issuer.object_ref(&()),
            !health.ready,
            "HealthCheck",
            health.reason,
            health.message.clone(),
        )
        .await;
    }
    tracing::info!(issuer = %key_of(issuer), ready = health.ready, reason = health.reason, "issuer checked");
    Ok(())
}

fn status_json(status: &IssuerStatus) -> serde_json::Value {
    // A merge patch only removes a field set to null; the profile is cleared that way.
    let mut value = serde_json::to_value(status).expect("status serialises");
    if status.profile.is_none() {
        value["profile"] = serde_json::Value::Null;
    }
    if status.cert_central.is_none() {
        value["certCentral"] = serde_json::Value::Null;
    }
    if status.qualys_cert_view.is_none() {
        value["qualysCertView"] = serde_json::Value::Null;
    }
    value
}

pub fn error_policy<K: IssuerResource>(_issuer: Arc<K>, error: &IssuerError, ctx: Arc<Context>) -> Action {
    tracing::warn!(%error, "issuer reconcile failed");
    ctx.metrics
        .reconcile_failed(controller_name(K::KIND), "StatusWrite");
    Action::requeue(Duration::from_secs(5))
}

pub fn controller_name(kind: IssuerKind) -> &'static str {
    match kind {
        IssuerKind::Issuer => "issuer",
        IssuerKind::ClusterIssuer => "clusterissuer",
    }
}
