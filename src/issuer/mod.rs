//! Issuer and ClusterIssuer: health checks against TLM and the registry of TLM clients.

pub mod health;
pub mod reconcile;
pub mod registry;
