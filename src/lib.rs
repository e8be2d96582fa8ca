//! tlm-operator: certificates from DigiCert Trust Lifecycle Manager and Certificate
//! Transparency monitoring for Kubernetes.

pub mod api;
pub mod certificate;
pub mod clients;
pub mod crd_yaml;
pub mod labels;
pub mod pki;
