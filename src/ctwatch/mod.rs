//! CTWatch: Certificate Transparency monitoring through Cert Spotter (DESIGN.md §4).

pub mod keyindex;
pub mod matching;
pub mod plan;
pub mod poller;
pub mod status;
pub mod verdict;
