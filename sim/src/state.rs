//! The state one simulator instance shares between its handlers. Each piece has its own lock,
//! held only to read or update memory; signing happens outside every lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use time::OffsetDateTime;

use crate::ca::{CertificateAuthority, IssuedCertificate, LeafSpec};
use crate::certspotter::feed::{Feed, IssuanceDraft};
use crate::certspotter::injection::{Injection, RogueCa};
use crate::certspotter::quota::QuotaBook;
use crate::counters::CounterBook;
use crate::csr::KeyKind;
use crate::faults::FaultEngine;
use crate::names::ct_dns_names;
use crate::options::{ApiKeyGrant, SimOptions};
use crate::profiles::{self, Profile};
use crate::throttle::ThrottleBook;
use crate::tlm::store::{CertificateStore, LeafOrder, RecordState};

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
}

/// Why a pending request could not be approved or rejected.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("no request with serial {0}")]
    NotFound(String),
    #[error("request {serial} is {state}, not pending")]
    NotPending { serial: String, state: &'static str },
    #[error("signing failed: {0}")]
    Signing(String),
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
            options,
        })
    }

    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|profile| profile.id == id)
    }

    /// Signs the leaf for `order` (no lock held) and logs it in the CT feed, as a public CA's
    /// certificate would be.
    pub fn sign_and_publish(
        &self,
        serial: &[u8; 20],
        order: &LeafOrder,
    ) -> anyhow::Result<IssuedCertificate> {
        let not_before = OffsetDateTime::now_utc().replace_nanosecond(0)?;
        let validity = time::Duration::try_from(order.validity)?;
        let issued = self.ca.issue(&LeafSpec {
            serial,
            subject: &order.subject,
            sans: &order.sans,
            not_before,
            not_after: not_before + validity,
            public_key: &order.public_key,
            key_encipherment: matches!(order.key, KeyKind::Rsa { .. }),
        })?;
        let draft = IssuanceDraft {
            tbs_sha256: issued.tbs_sha256.clone(),
            dns_names: ct_dns_names(order.subject.common_name.as_deref(), &order.sans.dns_names),
            pubkey_sha256: issued.spki_sha256.clone(),
            issuer: self.ca.identity.clone(),
            not_before: issued.not_before,
            not_after: issued.not_after,
            cert: Some((issued.der.clone(), false, issued.serial_hex.clone())),
        };
        write(&self.feed).append(draft);
        Ok(issued)
    }

    /// Issues a pending request now (admin approval, auto-approval, pickup).
    pub fn release_pending(&self, serial: &str) -> Result<Arc<IssuedCertificate>, ReleaseError> {
        let (serial_bytes, order) = {
            let mut store = write(&self.certificates);
            let record = store
                .get_mut(serial)
                .ok_or_else(|| ReleaseError::NotFound(serial.to_string()))?;
            if record.state != RecordState::Pending {
                return Err(ReleaseError::NotPending {
                    serial: record.serial.clone(),
                    state: record.state.wire_name(),
                });
            }
            record.state = RecordState::Issuing;
            (record.serial_bytes, record.order.clone())
        };
        let signed = self.sign_and_publish(&serial_bytes, &order);
        let mut store = write(&self.certificates);
        let record = store
            .get_mut(serial)
            .ok_or_else(|| ReleaseError::NotFound(serial.to_string()))?;
        match signed {
            Ok(issued) => {
                let issued = Arc::new(issued);
                record.state = RecordState::Issued;
                record.certificate = Some(issued.clone());
                Ok(issued)
            }
            Err(error) => {
                record.state = RecordState::Pending;
                Err(ReleaseError::Signing(error.to_string()))
            }
        }
    }

    pub fn reject_pending(&self, serial: &str) -> Result<(), ReleaseError> {
        let mut store = write(&self.certificates);
        let record = store
            .get_mut(serial)
            .ok_or_else(|| ReleaseError::NotFound(serial.to_string()))?;
        if record.state != RecordState::Pending {
            return Err(ReleaseError::NotPending {
                serial: record.serial.clone(),
                state: record.state.wire_name(),
            });
        }
        record.state = RecordState::Rejected;
        Ok(())
    }

    pub fn inject(&self, injection: &Injection) -> Result<String, String> {
        let draft = self.rogue.draft(injection)?;
        Ok(write(&self.feed).append(draft).to_string())
    }

    /// The chain TLM hands out with a certificate: leaf, intermediate, root.
    pub fn chain_ders<'a>(&'a self, leaf: &'a IssuedCertificate) -> [&'a [u8]; 3] {
        [&leaf.der, &self.ca.intermediate.der, &self.ca.root.der]
    }
}
