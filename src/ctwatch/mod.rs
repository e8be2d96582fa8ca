//! CTWatch: Certificate Transparency monitoring through Cert Spotter (DESIGN.md §4).

pub mod classify;
pub mod keyindex;
pub mod plan;
pub mod poller;
pub mod status;
pub mod verdict;
