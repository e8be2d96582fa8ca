//! Issuer and ClusterIssuer: health checks against the issuer's service.

pub mod checks;
pub mod health;
pub mod reconcile;
