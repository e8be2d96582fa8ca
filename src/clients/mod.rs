//! Typed HTTP clients for the services the operator talks to. Each speaks the wire contract in
//! `docs/tlm-wire.md` (Cert Spotter: its public API v1 documentation), classifies failures, honours `Retry-After` and keeps its own rate
//! limit; none ever logs or prints a credential.

pub mod adaptive_rate;
pub mod certcentral;
pub mod certcentral_order_recovery;
pub mod certcentral_order_types;
pub mod certcentral_orders;
pub mod certspotter;
pub mod error;
pub mod fair_turns;
pub mod http;
pub mod qualys;
pub mod qualys_types;
pub mod retry;
pub mod service;
pub mod throttle;
pub mod tlm;
pub mod tlm_types;

use std::time::Duration;

/// Sees every request a client makes (for metrics). `status` is None when no response arrived.
pub trait RequestObserver: Send + Sync {
    fn observe(&self, service: &'static str, endpoint: &'static str, status: Option<u16>, elapsed: Duration);
}

/// An observer that discards everything.
pub struct NoObserver;

impl RequestObserver for NoObserver {
    fn observe(&self, _: &'static str, _: &'static str, _: Option<u16>, _: Duration) {}
}
