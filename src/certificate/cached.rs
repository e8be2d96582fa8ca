//! What the Certificate cache keeps of each Certificate: its metadata (trimmed), the few fields
//! every pass reads of every other Certificate, and spec and status packed into one allocation,
//! unpacked once per pass of this Certificate.
//!
//! A `Certificate` is 936 bytes inline (most of it options that are rarely set) plus a dozen
//! small allocations for its strings; at 10,000 Certificates that was about 20 MiB of cache.
//! Packed, spec and status cost what their JSON costs.

use std::borrow::Cow;
use std::fmt;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::{Deserialize, Deserializer, Serialize};

use crate::api::{Certificate, CertificateSpec, CertificateStatus, ISSUING, IssuerKind, READY, conditions};

/// A Certificate as the cache keeps it. Deserialises from a Certificate (the watch's JSON).
#[derive(Clone)]
pub struct CachedCertificate {
    pub metadata: ObjectMeta,
    /// `spec.secretName`: who else claims a Secret name is asked on every pass.
    pub secret_name: Box<str>,
    /// `spec.issuerRef`: which Certificates an issuer's change wakes.
    pub issuer_kind: IssuerKind,
    pub issuer_name: Box<str>,
    /// For `tlm_operator_certificates{state}`.
    pub state: State,
    /// `{"spec":…,"status":…}` as JSON.
    packed: Box<[u8]>,
}

/// A Certificate's state as the `tlm_operator_certificates` gauge counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Ready,
    Issuing,
    Failed,
    NotReady,
}

impl State {
    pub const ALL: [State; 4] = [State::Ready, State::Issuing, State::Failed, State::NotReady];

    pub fn of(status: Option<&CertificateStatus>) -> Self {
        let Some(status) = status else {
            return State::NotReady;
        };
        if status.failed_issuance_attempts.unwrap_or(0) > 0 {
            State::Failed
        } else if conditions::is_true(&status.conditions, ISSUING) {
            State::Issuing
        } else if conditions::is_true(&status.conditions, READY) {
            State::Ready
        } else {
            State::NotReady
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Issuing => "issuing",
            State::Failed => "failed",
            State::NotReady => "not_ready",
        }
    }
}

#[derive(Serialize)]
struct PackedRef<'a> {
    spec: &'a CertificateSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a CertificateStatus>,
}

#[derive(Deserialize)]
struct Packed {
    spec: CertificateSpec,
    #[serde(default)]
    status: Option<CertificateStatus>,
}

#[derive(Deserialize)]
struct PackedStatus {
    #[serde(default)]
    status: Option<CertificateStatus>,
}

impl CachedCertificate {
    /// The cache's copy. Nothing reads a cached Certificate's labels, annotations or managed
    /// fields (helm's and argo's are often a kilobyte); writes made from it go to the status
    /// subresource, which takes only the status and the resourceVersion precondition, or are
    /// finalizer patches.
    pub fn pack(cert: &Certificate) -> Result<Self, serde_json::Error> {
        let mut metadata = cert.metadata.clone();
        metadata.managed_fields = None;
        metadata.labels = None;
        metadata.annotations = None;
        let packed = serde_json::to_vec(&PackedRef {
            spec: &cert.spec,
            status: cert.status.as_ref(),
        })?;
        Ok(Self {
            metadata,
            secret_name: cert.spec.secret_name.as_str().into(),
            issuer_kind: cert.spec.issuer_ref.kind,
            issuer_name: cert.spec.issuer_ref.name.as_str().into(),
            state: State::of(cert.status.as_ref()),
            packed: packed.into_boxed_slice(),
        })
    }

    /// The Certificate, as far as the cache keeps it (no labels, annotations, managed fields).
    pub fn unpack(&self) -> Result<Certificate, serde_json::Error> {
        let Packed { spec, status } = serde_json::from_slice(&self.packed)?;
        Ok(Certificate {
            metadata: self.metadata.clone(),
            spec,
            status,
        })
    }

    /// The status alone.
    pub fn status(&self) -> Result<Option<CertificateStatus>, serde_json::Error> {
        serde_json::from_slice::<PackedStatus>(&self.packed).map(|p| p.status)
    }
}

impl<'de> Deserialize<'de> for CachedCertificate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let cert = Certificate::deserialize(deserializer)?;
        Self::pack(&cert).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for CachedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedCertificate")
            .field("namespace", &self.metadata.namespace)
            .field("name", &self.metadata.name)
            .field("resource_version", &self.metadata.resource_version)
            .field("packed_bytes", &self.packed.len())
            .finish_non_exhaustive()
    }
}

impl Resource for CachedCertificate {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(dt: &()) -> Cow<'_, str> {
        Certificate::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        Certificate::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        Certificate::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        Certificate::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PendingRequest;
    use crate::certificate::spec::tests::spec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use kube::runtime::reflector::ObjectRef;

    fn issued() -> Certificate {
        let mut cert = Certificate::new("web", spec(&["web.example.com", "www.example.com"]));
        cert.metadata.namespace = Some("apps".into());
        cert.metadata.uid = Some("uid-1".into());
        cert.metadata.resource_version = Some("42".into());
        cert.metadata.generation = Some(3);
        cert.metadata.finalizers = Some(vec!["f".into()]);
        cert.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        cert.metadata.annotations = Some([("note".to_string(), "x".repeat(1000))].into());
        cert.metadata.managed_fields = Some(vec![Default::default()]);
        // Whole seconds: the API's timestamps have no fraction, so neither does a watched one.
        let now = Time(k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap());
        cert.status = Some(CertificateStatus {
            conditions: vec![Condition {
                type_: READY.into(),
                status: "True".into(),
                reason: "Issued".into(),
                message: "Certificate is up to date".into(),
                last_transition_time: now.clone(),
                observed_generation: Some(3),
            }],
            serial_number: Some("0a1b".into()),
            public_key_sha256: Some("ab".repeat(32)),
            not_after: Some(now.clone()),
            revision: Some(2),
            pending_request: Some(Box::new(PendingRequest {
                serial_number: None,
                pickup_request_id: Some("req-1".into()),
                public_key_sha256: "cd".repeat(32),
                generation: 3,
                submitted_at: now,
                polls: 1,
            })),
            ..Default::default()
        });
        cert
    }

    #[test]
    fn unpacking_gives_back_spec_status_and_the_metadata_passes_read() {
        let cert = issued();
        let cached = CachedCertificate::pack(&cert).unwrap();
        let back = cached.unpack().unwrap();
        assert_eq!(back.spec, cert.spec);
        assert_eq!(back.status, cert.status);
        assert_eq!(cached.status().unwrap(), cert.status);
        assert_eq!(back.metadata.finalizers, cert.metadata.finalizers);
        assert_eq!(back.metadata.resource_version, cert.metadata.resource_version);
        assert_eq!(back.metadata.generation, Some(3));
        assert!(back.metadata.labels.is_none() && back.metadata.annotations.is_none());
        assert!(back.metadata.managed_fields.is_none());
        assert_eq!(&*cached.secret_name, cert.spec.secret_name);
        assert_eq!(&*cached.issuer_name, cert.spec.issuer_ref.name);
        assert_eq!(cached.issuer_kind, cert.spec.issuer_ref.kind);
        assert_eq!(cached.state, State::Ready);
        assert_eq!(
            ObjectRef::<CachedCertificate>::from_obj(&cached).erase(),
            ObjectRef::<Certificate>::from_obj(&cert).erase()
        );
    }

    #[test]
    fn it_deserialises_from_the_watch_json_and_without_a_status() {
        let mut cert = issued();
        cert.status = None;
        let json = serde_json::to_vec(&cert).unwrap();
        let cached: CachedCertificate = serde_json::from_slice(&json).unwrap();
        assert_eq!(cached.unpack().unwrap().status, None);
        assert_eq!(cached.state, State::NotReady);
        assert!(format!("{cached:?}").contains("web"));
    }

    #[test]
    fn the_state_follows_failures_then_issuing_then_ready() {
        let mut status = issued().status.unwrap();
        assert_eq!(State::of(Some(&status)), State::Ready);
        status.conditions.push(Condition {
            type_: ISSUING.into(),
            status: "True".into(),
            reason: "Renewing".into(),
            message: String::new(),
            last_transition_time: status.conditions[0].last_transition_time.clone(),
            observed_generation: None,
        });
        assert_eq!(State::of(Some(&status)), State::Issuing);
        status.failed_issuance_attempts = Some(1);
        assert_eq!(State::of(Some(&status)), State::Failed);
        assert_eq!(State::of(None), State::NotReady);
    }

    #[test]
    fn a_cached_certificate_is_narrow() {
        let size = std::mem::size_of::<CachedCertificate>();
        assert!(size <= 424, "CachedCertificate is {size} bytes inline (416 now)");
    }
}
