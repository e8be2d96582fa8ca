//! Prometheus metrics, served on `/metrics`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::clients::RequestObserver;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub service: String,
    pub endpoint: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub service: String,
    pub endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    pub namespace: String,
    pub name: String,
}

pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<ControllerLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub issuance_seconds: Histogram,
    pub certificates: Family<StateLabels, Gauge>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<EndpointLabels, Histogram>,
    pub unexpected_issuances: Family<WatchLabels, Counter>,
    pub panics: Family<ControllerLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let unexpected_issuances = Family::<WatchLabels, Counter>::default();
        // Named as the CT monitoring design names it, without the operator prefix, so alert
        // rules read naturally.
        registry.register(
            "ctwatch_unexpected_issuances",
            "Certificates seen in CT logs that no Certificate of this cluster requested",
            unexpected_issuances.clone(),
        );
        let sub = registry.sub_registry_with_prefix("tlm_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        sub.register("reconciles", "Reconciliations run", reconciles.clone());
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        sub.register(
            "reconcile_errors",
            "Reconciliations that failed, by reason",
            reconcile_errors.clone(),
        );
        // 0.05s .. ~1.8h: immediate issuance takes well under a second, approval can take hours.
        let issuance_seconds = Histogram::new(exponential_buckets(0.05, 2.5, 14));
        sub.register(
            "issuance_duration_seconds",
            "Time from the start of an issuance to the Secret being written",
            issuance_seconds.clone(),
        );
        let certificates = Family::<StateLabels, Gauge>::default();
        sub.register("certificates", "Certificates by state", certificates.clone());
        let requests = Family::<RequestLabels, Counter>::default();
        sub.register(
            "external_requests",
            "Requests to external services (TLM, Cert Spotter, CertCentral) by endpoint and HTTP status",
            requests.clone(),
        );
        let request_seconds = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        sub.register(
            "external_request_duration_seconds",
            "Latency of external requests",
            request_seconds.clone(),
        );
        let panics = Family::<ControllerLabels, Counter>::default();
        sub.register(
            "panics",
            "Panics caught in a reconcile or poll cycle (the loop went on; each is a bug to report)",
            panics.clone(),
        );
        Self {
            registry,
            panics,
            reconciles,
            reconcile_errors,
            issuance_seconds,
            certificates,
            requests,
            request_seconds,
            unexpected_issuances,
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    pub fn reconciled(&self, controller: &str) {
        self.reconciles
            .get_or_create(&ControllerLabels {
                controller: controller.into(),
            })
            .inc();
    }

    pub fn panicked(&self, controller: &str) {
        self.panics
            .get_or_create(&ControllerLabels {
                controller: controller.into(),
            })
            .inc();
    }

    pub fn reconcile_failed(&self, controller: &str, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                controller: controller.into(),
                reason: reason.into(),
            })
            .inc();
    }
}

impl RequestObserver for Metrics {
    fn observe(&self, service: &'static str, endpoint: &'static str, status: Option<u16>, elapsed: Duration) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.requests
            .get_or_create(&RequestLabels {
                service: service.into(),
                endpoint: endpoint.into(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&EndpointLabels {
                service: service.into(),
                endpoint: endpoint.into(),
            })
            .observe(elapsed.as_secs_f64());
    }
}
