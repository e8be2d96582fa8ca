//! The Certificate controller: decide (pure) then do one step (docs/architecture.md).

pub mod cached;
pub mod decide;
pub mod issued_checks;
pub mod keygen;
pub mod observe;
pub mod observed;
mod packed;
mod pki_terms;
pub mod renewal;
pub mod secret;
pub mod secret_cache;
pub mod spec;
mod status;
mod steps;
pub mod wakeups;

mod reconcile;
mod revoke;
pub use reconcile::{CONTROLLER, Flow, ReconcileError, error_policy, reconcile};
