//! What every TLM step of a CertificateRequest shares: the request as last stored, its CSR, the
//! issuer's client and profile; and what a failed TLM call leaves in `Ready`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::ResourceExt;
use kube::runtime::controller::Action;

use super::api::{CertificateRequest, REASON_FAILED, REASON_PENDING};
use super::csr::CsrFacts;
use super::decide::retry_after;
use super::issuer::ReadyProfile;
use super::status::{ReadyUpdate, event, set_ready};
use crate::api::TlmIssuerConfig;
use crate::backend::registry::IssuerKey;
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm::TlmClient;
use crate::context::Context;

/// The controller's context: the operator's, plus consecutive transient failures per request
/// (lost on restart, which only shortens the next wait).
pub struct CmContext {
    pub ctx: Arc<Context>,
    failures: Mutex<HashMap<String, u32>>,
}

impl CmContext {
    pub fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more transient failure and returns how long to wait.
    pub fn failed_again(&self, uid: &str) -> Duration {
        let mut map = self.failures.lock().expect("failures lock");
        let n = map.entry(uid.to_string()).or_default();
        let wait = retry_after(*n);
        *n = n.saturating_add(1);
        wait
    }

    pub fn progressed(&self, uid: &str) {
        self.failures.lock().expect("failures lock").remove(uid);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CmError {
    #[error("writing the CertificateRequest: {0}")]
    Kube(#[from] kube::Error),
}

pub type StepResult = Result<Action, CmError>;

/// One request being worked on.
pub struct Step<'a> {
    pub cm: &'a CmContext,
    /// As last stored (each write returns the new version).
    pub cr: CertificateRequest,
    pub csr: &'a CsrFacts,
    pub key: IssuerKey,
    pub tlm: &'a TlmIssuerConfig,
    pub profile: &'a ReadyProfile,
    pub client: TlmClient,
}

impl Step<'_> {
    pub fn ctx(&self) -> &Context {
        &self.cm.ctx
    }

    pub fn uid(&self) -> String {
        self.cr.uid().unwrap_or_default()
    }

    /// `Ready=False` with `reason`; terminal failures get `failureTime` and a Warning Event.
    pub async fn not_ready(
        &mut self,
        reason: &'static str,
        message: String,
        failed: bool,
    ) -> Result<(), CmError> {
        if failed {
            event(self.ctx(), &self.cr, true, reason, message.clone()).await;
            tracing::warn!(request = %self.cr.name_any(), namespace = %self.cr.namespace().unwrap_or_default(), %reason, %message, "CertificateRequest failed");
        }
        self.cr = set_ready(
            self.ctx(),
            &self.cr,
            ReadyUpdate::not_ready(reason, message, failed),
        )
        .await?;
        Ok(())
    }

    /// `Ready=False, Failed` and `failureTime`: cert-manager decides whether to try again.
    pub async fn fail(&mut self, message: String) -> StepResult {
        self.not_ready(REASON_FAILED, message, true).await?;
        self.cm.progressed(&self.uid());
        Ok(Action::await_change())
    }

    /// `Ready=False, Pending` and a look again after `wait`.
    pub async fn pending(&mut self, message: String, wait: Duration) -> StepResult {
        self.not_ready(REASON_PENDING, message, false).await?;
        Ok(Action::requeue(wait))
    }

    /// A failed TLM call: retried with backoff (transient, credentials, unreadable answers),
    /// or a terminal `Failed` (TLM refused the request).
    pub async fn on_tlm_error(&mut self, e: ServiceError) -> StepResult {
        match e.class() {
            ErrorClass::Transient | ErrorClass::UnexpectedBody | ErrorClass::Config | ErrorClass::Auth => {
                if e.class() == ErrorClass::Auth {
                    self.ctx().registry.invalidate(&self.key);
                }
                let wait = self
                    .cm
                    .failed_again(&self.uid())
                    .max(e.retry_after().unwrap_or_default());
                self.pending(
                    format!("TLM call failed, retrying in {}s: {e}", wait.as_secs()),
                    wait,
                )
                .await
            }
            ErrorClass::InvalidInput | ErrorClass::Conflict | ErrorClass::NotFound => {
                self.fail(format!("TLM refused the request: {e}")).await
            }
        }
    }
}
