//! tlm-sim: a local, real HTTP simulator of DigiCert Trust Lifecycle Manager, SSLMate Cert
//! Spotter and DigiCert CertCentral's CT monitor, for tests, benchmarks and the demo.
//! `README.md` beside this crate is its contract.

mod admin;
mod ca;
mod certcentral;
mod certcentral_orders;
mod certspotter;
mod counters;
mod csr;
mod digest;
mod endpoints;
mod errors;
mod fault_responses;
mod faults;
mod names;
mod options;
mod pem;
mod pkcs7;
mod profiles;
mod qualys;
mod request_info;
mod server;
mod sim;
mod state;
mod subject_dn;
mod throttle;
mod tlm;
mod tls;
mod traffic;

pub use certspotter::injection::Injection;
pub use counters::{Counters, LogEntry};
pub use faults::FaultRule;
pub use options::{ApiKeyGrant, SimOptions};
pub use qualys::QualysOptions;
pub use request_info::RequestInfo;
pub use sim::Sim;
