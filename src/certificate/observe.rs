//! Gathering what `decide` looks at: from the caches first (free), from the API server when a
//! write is about to follow (so no write is based on a stale cache).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};

use super::observed::{IssuerView, NextKey, ReadyIssuer, TargetSecret, is_next_key_of};
use super::secret::next_key_name;
use super::secret_cache::SecretDigest;
use crate::api::conditions;
use crate::api::{Certificate, IssuerBackendConfig, IssuerKind, IssuerLike, READY};
use crate::backend::registry::IssuerKey;
use crate::clients::fair_turns::Tenant;
use crate::context::Context;

/// The objects one reconcile works on. Writes replace them with what the API server returned.
#[derive(Clone)]
pub struct Observation {
    pub cert: Certificate,
    /// The whole Secrets, in a fresh observation only: steps (which write) run on those.
    pub secret: Option<Secret>,
    pub next_key: Option<Secret>,
    /// Read from the API server (true) or from caches (false).
    pub fresh: bool,
    /// A cached observation's Secrets, as the cache keeps them.
    cached: CachedSecrets,
}

#[derive(Clone, Default)]
struct CachedSecrets {
    target: Option<Arc<SecretDigest>>,
    next_key: Option<Arc<SecretDigest>>,
}

/// The issuer a Certificate references, as found in the caches.
#[derive(Clone)]
pub struct IssuerRefd {
    pub key: IssuerKey,
    /// The issuer's backend settings (`spec.tlm` or `spec.certCentral`).
    pub backend: IssuerBackendConfig,
    pub revoke_on_delete: Option<bool>,
    pub view: IssuerView,
    /// The Certificate's namespace: a ClusterIssuer's request budget is shared fairly between
    /// namespaces.
    pub tenant: Tenant,
}

impl Observation {
    pub fn cached(cert: &Certificate, ctx: &Context) -> Self {
        let ns = cert.namespace().unwrap_or_default();
        let lookup = |name: &str| ctx.secrets.get(&ns, name);
        Self {
            secret: None,
            next_key: None,
            cached: CachedSecrets {
                target: lookup(&cert.spec.secret_name),
                next_key: next_key_name(cert)
                    .as_deref()
                    .and_then(lookup)
                    .filter(|s| s.is_next_key_of(cert)),
            },
            cert: cert.clone(),
            fresh: false,
        }
    }

    pub async fn fresh(ctx: &Context, namespace: &str, name: &str) -> Result<Option<Self>, kube::Error> {
        let certs: Api<Certificate> = Api::namespaced(ctx.client.clone(), namespace);
        let Some(cert) = certs.get_opt(name).await? else {
            return Ok(None);
        };
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
        let secret = secrets.get_opt(&cert.spec.secret_name).await?;
        let revision = cert.status.as_ref().and_then(|s| s.revision);
        let named = cert
            .status
            .as_ref()
            .is_some_and(|s| s.next_private_key_secret_name.is_some());
        let next_key = match next_key_name(&cert) {
            // An issued Certificate's first key is almost always gone: ask the API server only
            // when the cache still has it, not on every write.
            Some(n) if !named && revision.is_some() && !ctx.secrets.contains(namespace, &n) => None,
            Some(n) => secrets.get_opt(&n).await?.filter(|s| is_next_key_of(s, &cert)),
            None => None,
        };
        Ok(Some(Self {
            cert,
            secret,
            next_key,
            fresh: true,
            cached: CachedSecrets::default(),
        }))
    }

    pub fn target(&self) -> Option<TargetSecret> {
        if self.fresh {
            self.secret.as_ref().map(TargetSecret::parse)
        } else {
            self.cached.target.as_ref().map(|d| d.target())
        }
    }

    pub fn next(&self) -> Option<NextKey> {
        if self.fresh {
            self.next_key.as_ref().map(NextKey::parse)
        } else {
            self.cached.next_key.as_ref().map(|d| d.next_key())
        }
    }

    pub fn uid(&self) -> String {
        self.cert.uid().unwrap_or_default()
    }

    pub fn reference(&self) -> k8s_openapi::api::core::v1::ObjectReference {
        self.cert.object_ref(&())
    }
}

/// A CertCentral renewal reissues on the current order at any point of the certificate's life.
const CERTCENTRAL_REISSUE_WINDOW_DAYS: i64 = 3650;

/// Finds the referenced Issuer or ClusterIssuer in the caches.
pub fn issuer_of(cert: &Certificate, ctx: &Context) -> Result<IssuerRefd, IssuerView> {
    let r = &cert.spec.issuer_ref;
    let not_found = || IssuerView::NotFound {
        kind: r.kind,
        name: r.name.clone(),
    };
    let (key, backend, revoke, status) = match r.kind {
        IssuerKind::Issuer => {
            let ns = cert.namespace().unwrap_or_default();
            let issuer = ctx
                .issuers
                .get(&ObjectRef::new(&r.name).within(&ns))
                .ok_or_else(not_found)?;
            let key = IssuerKey {
                kind: r.kind,
                namespace: Some(ns),
                name: r.name.clone(),
            };
            (
                key,
                issuer.backend_config().ok_or_else(not_found)?,
                issuer.revoke_on_delete(),
                issuer.issuer_status().cloned(),
            )
        }
        IssuerKind::ClusterIssuer => {
            let issuer = ctx
                .cluster_issuers
                .get(&ObjectRef::new(&r.name))
                .ok_or_else(not_found)?;
            let key = IssuerKey {
                kind: r.kind,
                namespace: None,
                name: r.name.clone(),
            };
            (
                key,
                issuer.backend_config().ok_or_else(not_found)?,
                issuer.revoke_on_delete(),
                issuer.issuer_status().cloned(),
            )
        }
    };
    let status = status.unwrap_or_default();
    let view = match conditions::find(&status.conditions, READY) {
        // CertCentral reissues on the order of the certificate being renewed whenever it is
        // renewed (the whole lifetime is a "renewal window"); a pending order can be listed, so
        // no in-flight record is needed before ordering.
        Some(c) if c.status == "True" && matches!(backend, IssuerBackendConfig::CertCentral(_)) => {
            IssuerView::Ready(ReadyIssuer {
                renewal_period_days: Some(CERTCENTRAL_REISSUE_WINDOW_DAYS),
                revoke_on_delete: revoke.unwrap_or(false),
                may_need_approval: false,
                validity_override: true,
                profile_validity: None,
            })
        }
        // Qualys requests wait for a Qualys approver, and cannot be found again by key: the
        // in-flight record goes to status before each submit. A renewal is a new request.
        Some(c) if c.status == "True" && matches!(backend, IssuerBackendConfig::QualysCertView(_)) => {
            IssuerView::Ready(ReadyIssuer {
                renewal_period_days: None,
                revoke_on_delete: false,
                may_need_approval: true,
                validity_override: true,
                profile_validity: None,
            })
        }
        Some(c) if c.status == "True" => {
            let profile = status.profile.as_ref();
            IssuerView::Ready(ReadyIssuer {
                renewal_period_days: profile.and_then(|p| p.renewal_period_days),
                revoke_on_delete: revoke.unwrap_or(false),
                may_need_approval: !profile
                    .and_then(|p| p.authentication_method.as_deref())
                    .is_some_and(|m| m.eq_ignore_ascii_case("third_party_app")),
                validity_override: profile.and_then(|p| p.validity_override) == Some(true),
                profile_validity: profile.and_then(|p| p.validity.clone()),
            })
        }
        Some(c) => IssuerView::NotReady {
            reason: c.reason.clone(),
            message: c.message.clone(),
        },
        None => IssuerView::Unchecked,
    };
    Ok(IssuerRefd {
        key,
        backend,
        revoke_on_delete: revoke,
        view,
        tenant: Tenant::from(cert.namespace().unwrap_or_default()),
    })
}
