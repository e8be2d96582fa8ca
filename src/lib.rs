//! tlm-operator: certificates from DigiCert Trust Lifecycle Manager and Certificate
//! Transparency monitoring for Kubernetes.

pub mod api;
pub mod backend;
pub mod certificate;
pub mod certmanager;
pub mod clients;
pub mod context;
pub mod crash;
pub mod crd_reference;
pub mod crd_yaml;
pub mod ctwatch;
pub mod events;
pub mod issuer;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod pki;
pub mod run;
pub mod server;
pub mod supervise;
pub mod telemetry;
