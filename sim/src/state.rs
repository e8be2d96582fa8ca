//! The state one simulator instance shares between its handlers. Each piece has its own lock,
//! held only to read or update memory; signing happens outside every lock.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use time::OffsetDateTime;

use crate::ca::CertificateAuthority;
use crate::certspotter::feed::Feed;
use crate::certspotter::injection::{Injection, RogueCa};
use crate::certspotter::quota::QuotaBook;
use crate::counters::CounterBook;
use crate::faults::{FaultEngine, FaultTicket, IssuanceFaults};
use crate::options::{ApiKeyGrant, SimOptions};
use crate::profiles::{self, Profile};
use crate::request_info::RequestInfo;
use crate::throttle::ThrottleBook;
use crate::tlm::issue::{ReleaseError, release};
use crate::tlm::store::{CertificateState, CertificateStore, RequestState};

/// Why `set_certificate_status` refused.
#[derive(Debug, thiserror::Error)]
pub enum StatusChangeError {
    #[error("no certificate with serial {0}")]
    NotFound(String),
    #[error("status {0:?} is not one of issued, revoked, suspended, expired")]
    UnknownStatus(String),
}

pub struct AppState {
    pub options: SimOptions,
    pub ca: CertificateAuthority,
    pub rogue: RogueCa,
    pub tls_ca_pem: Option<String>,
    pub profiles: Vec<Profile>,
    pub api_keys: HashMap<String, ApiKeyGrant>,
    pub certificates: RwLock<CertificateStore>,
    pub feed: RwLock<Feed>,
    pub faults: Mutex<FaultEngine>,
    pub throttles: Mutex<ThrottleBook>,
    pub counters: Mutex<CounterBook>,
    pub quota: Mutex<QuotaBook>,
    pub qualys: Mutex<crate::qualys::QualysBook>,
    pub certcentral_orders: Mutex<crate::certcentral_orders::OrderBook>,
}

// A panic in one handler must not wedge the whole simulator, so poisoned locks are recovered.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl AppState {
    pub fn new(options: SimOptions, tls_ca_pem: Option<String>) -> anyhow::Result<AppState> {
        let mut faults = FaultEngine::new(options.seed);
        faults.set_rules(options.faults.clone());
        Ok(AppState {
            ca: CertificateAuthority::new("tlm-sim", "tlm-sim Root CA", "tlm-sim Issuing CA")?,
            rogue: RogueCa::new()?,
            tls_ca_pem,
            profiles: profiles::catalogue(options.short_validity),
            api_keys: options
                .api_keys
                .iter()
                .map(|grant| (grant.key.clone(), grant.clone()))
                .collect(),
            certificates: RwLock::new(CertificateStore::default()),
            feed: RwLock::new(Feed::default()),
            faults: Mutex::new(faults),
            throttles: Mutex::new(ThrottleBook::default()),
            counters: Mutex::new(CounterBook::default()),
            quota: Mutex::new(QuotaBook::default()),
            qualys: Mutex::new(crate::qualys::QualysBook::default()),
            certcentral_orders: Mutex::new(crate::certcentral_orders::OrderBook::default()),
            options,
        })
    }

    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|profile| profile.id == id)
    }

    /// The issuance faults for a certificate signed now for the request holding `ticket`
    /// (none for work no client request triggered, such as an admin approval).
    pub fn issuance_faults(&self, ticket: Option<&FaultTicket>) -> IssuanceFaults {
        ticket
            .map(|ticket| lock(&self.faults).draw_issuance(ticket))
            .unwrap_or_default()
    }

    /// Issues a pending request now (admin approval).
    pub fn approve(&self, request_id: &str) -> Result<String, ReleaseError> {
        let index = read(&self.certificates)
            .request_index(request_id)
            .ok_or_else(|| ReleaseError::NotFound(request_id.to_string()))?;
        release(self, index, IssuanceFaults::default())
    }

    pub fn reject(&self, request_id: &str) -> Result<(), ReleaseError> {
        let mut store = write(&self.certificates);
        let request = store
            .request_index(request_id)
            .and_then(|index| store.request_mut(index))
            .ok_or_else(|| ReleaseError::NotFound(request_id.to_string()))?;
        if request.state != RequestState::Pending {
            return Err(ReleaseError::NotPending {
                request_id: request_id.to_string(),
                state: request.state.wire_name(),
            });
        }
        request.state = RequestState::Rejected;
        Ok(())
    }

    pub fn requests(&self) -> Vec<RequestInfo> {
        read(&self.certificates)
            .requests()
            .iter()
            .map(RequestInfo::from)
            .collect()
    }

    /// Sets the state of the certificate `GET /certificate/{serial}` reports.
    pub fn set_certificate_status(&self, serial: &str, status: &str) -> Result<(), StatusChangeError> {
        let now = OffsetDateTime::now_utc();
        let state = match status {
            "issued" => CertificateState::Issued,
            "revoked" => CertificateState::Revoked {
                reason: "unspecified".to_string(),
                at: now,
            },
            "suspended" => CertificateState::Suspended { at: now },
            "expired" => CertificateState::Expired,
            other => return Err(StatusChangeError::UnknownStatus(other.to_string())),
        };
        let mut store = write(&self.certificates);
        let record = store
            .newest_with_serial(serial)
            .and_then(|index| store.certificate_mut(index))
            .ok_or_else(|| StatusChangeError::NotFound(serial.to_string()))?;
        record.state = state;
        Ok(())
    }

    pub fn inject(&self, injection: &Injection) -> Result<String, String> {
        let draft = self.rogue.draft(injection)?;
        Ok(write(&self.feed).append(draft).to_string())
    }
}
