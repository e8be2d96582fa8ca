//! cert-manager external-issuer mode (`--cert-manager-issuer`): serves cert-manager
//! `CertificateRequest`s whose `spec.issuerRef.group` is `tlm.certops.dev`, following
//! cert-manager's external-issuer contract (act once `Approved`; `Ready` with reasons
//! `Pending`, `Issued`, `Failed`, `Denied`, `InvalidRequest`; `failureTime` on terminal
//! failures; `status.certificate` and `status.ca` on issue), through the same TLM client, issuer
//! caches and crash-safety rules as our own Certificates.
//!
//! - `api`: the CertificateRequest fields used (hand-written; no cert-manager crate);
//! - `csr`: reading the request's CSR;
//! - `issuer`: the referenced Issuer/ClusterIssuer from the caches;
//! - `record`: the order annotation (`tlm.certops.dev/order`);
//! - `decide`: the next action, pure;
//! - `reconcile`, `step`, `submit`, `waiting`: the IO;
//! - `chain`, `status`: what is written.

pub mod api;
pub mod chain;
pub mod csr;
pub mod decide;
pub mod issuer;
mod reconcile;
pub mod record;
pub mod status;
mod step;
mod submit;
mod waiting;

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, reflector};
use kube::runtime::{Controller, WatchStreamExt, watcher};

pub use reconcile::{error_policy, reconcile};
pub use step::CmContext;

use self::api::{CRD_NAME, CertificateRequest, GROUP, PLURAL, VERSION};
use crate::context::Context;

/// Whether the API server serves `certificaterequests.cert-manager.io/v1` (discovery needs no
/// extra RBAC, unlike reading the CRD).
pub async fn crd_served(client: &kube::Client) -> Result<bool, kube::Error> {
    match client
        .list_api_group_resources(&format!("{GROUP}/{VERSION}"))
        .await
    {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == PLURAL)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Runs the controller for one watch scope (`None`: every namespace) until shutdown. When
/// cert-manager's CRD is missing it says so and does not start; it never ends on its own, so
/// the rest of the operator keeps running either way.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>) {
    match crd_served(&ctx.client).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::error!(
                crd = CRD_NAME,
                "--cert-manager-issuer is on, but cert-manager's CRD {CRD_NAME} is not installed: the cert-manager external-issuer controller does not start. Install cert-manager, then restart the operator"
            );
            return futures::future::pending().await;
        }
        Err(e) => {
            tracing::error!(crd = CRD_NAME, error = %e, "--cert-manager-issuer is on, but whether cert-manager's CRD is installed cannot be checked: the cert-manager external-issuer controller does not start");
            return futures::future::pending().await;
        }
    }
    // Judge no request before the issuers are known: an empty cache reads as "not found".
    let _ = futures::future::join(
        ctx.issuers.wait_until_ready(),
        ctx.cluster_issuers.wait_until_ready(),
    )
    .await;
    tracing::info!(
        scope = namespace.as_deref().unwrap_or("all namespaces"),
        "cert-manager external-issuer controller started for CertificateRequests with issuerRef.group tlm.certops.dev"
    );
    let api: Api<CertificateRequest> = match &namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    };
    let (reader, writer) = reflector::store::<CertificateRequest>();
    // Only our requests are cached: other issuers' requests (most of a cluster's) cost nothing.
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .try_filter(|event| {
            let keep = match event {
                watcher::Event::Apply(cr) | watcher::Event::InitApply(cr) => cr.is_ours(),
                _ => true,
            };
            futures::future::ready(keep)
        })
        .modify(|cr: &mut CertificateRequest| cr.meta_mut().managed_fields = None);
    let stream = reflector(writer, events).applied_objects();
    Controller::for_stream(stream, reader)
        .shutdown_on_signal()
        .run(reconcile, error_policy, Arc::new(CmContext::new(ctx)))
        .for_each(|_| futures::future::ready(()))
        .await;
}
