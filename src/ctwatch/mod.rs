//! CTWatch: Certificate Transparency monitoring through Cert Spotter (docs/architecture.md).

pub mod alert;
pub mod classify;
pub mod collect;
pub mod cycle_error;
pub mod keyindex;
pub mod plan;
pub mod poller;
pub mod sources;
pub mod status;
pub mod verdict;
pub mod wait;
pub mod write_backoff;
