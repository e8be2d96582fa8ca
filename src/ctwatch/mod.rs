//! CTWatch: Certificate Transparency monitoring through Cert Spotter (docs/architecture.md).

pub mod classify;
pub mod keyindex;
pub mod plan;
pub mod poller;
pub mod status;
pub mod verdict;
