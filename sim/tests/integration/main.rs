//! Integration tests: each starts a simulator in-process on 127.0.0.1:0 and talks HTTP to it.
//! One test binary (modules below) keeps link time down.

mod certcentral;
mod certcentral_orders;
mod certspotter;
mod cli;
mod faults;
mod faults_after;
mod faults_issuance;
mod qualys;
mod support;
mod tlm_approval;
mod tlm_contract;
mod tlm_errors;
mod tlm_issuance;
mod tlm_profiles;
mod tlm_renew;
mod tlm_revoke;
mod tlm_search;
mod tls;
