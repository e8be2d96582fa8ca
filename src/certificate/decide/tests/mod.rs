use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::api::{
    Certificate, CertificateStatus, ConditionValue, KeyAlgorithm, PendingRequest, SecretTemplate,
};
use crate::certificate::observed::{IssuerView, KeyFacts, NextKey, ReadyIssuer, TargetSecret};
use crate::certificate::secret::target_secret;
use crate::certificate::spec::tests::spec;
use crate::pki::test_ca::chain_with;
use crate::pki::{LeafInfo, PrivateKey};

const NOW: i64 = 1_800_000_000;

fn submit(renew_serial: Option<String>) -> Step {
    Step::Submit {
        renew_serial,
        mark_first: false,
        in_flight_since: None,
    }
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

struct World {
    cert: Certificate,
    secret: Option<TargetSecret>,
    next_key: Option<NextKey>,
    issuer: IssuerView,
    now: Timestamp,
    last_poll: Option<Timestamp>,
    issued_check: Option<IssuedCheck>,
    secret_held_by: Option<String>,
    first_key_name: Option<String>,
}

impl World {
    /// The serial of the certificate in the target Secret (set by `with_issued`).
    fn issued_serial(&self) -> String {
        self.secret
            .as_ref()
            .and_then(|s| s.matched_leaf())
            .expect("an issued certificate")
            .serial_hex
            .clone()
    }

    fn new() -> Self {
        let mut cert = Certificate::new("web", spec(&["web.example.com"]));
        cert.metadata = ObjectMeta {
            name: Some("web".into()),
            namespace: Some("ns".into()),
            generation: Some(1),
            uid: Some("uid-1".into()),
            ..Default::default()
        };
        cert.status = Some(CertificateStatus::default());
        Self {
            cert,
            secret: None,
            next_key: None,
            issuer: IssuerView::Ready(ReadyIssuer {
                renewal_period_days: Some(30),
                revoke_on_delete: false,
                may_need_approval: false,
                validity_override: true,
                profile_validity: None,
            }),
            now: at(NOW),
            last_poll: None,
            issued_check: None,
            secret_held_by: None,
            first_key_name: None,
        }
    }

    /// Puts a certificate valid from `from` to `to` (seconds relative to NOW) into the Secret.
    fn with_issued(mut self, from: i64, to: i64) -> Self {
        let key = PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap();
        let names: Vec<&str> = self
            .cert
            .spec
            .dns_names
            .as_ref()
            .unwrap()
            .iter()
            .map(String::as_str)
            .collect();
        let chain = chain_with(&names, key, Some((NOW + from, NOW + to)));
        let leaf = LeafInfo::parse(&chain.chain[0]).unwrap();
        let secret = target_secret(&self.cert, &chain.leaf_key, &chain.chain, &leaf).unwrap();
        self.secret = Some(TargetSecret::parse(&secret));
        self
    }

    fn status(&mut self) -> &mut CertificateStatus {
        self.cert.status.as_mut().unwrap()
    }

    fn decide(&self) -> Step {
        decide(&Inputs {
            name: "web",
            spec: &self.cert.spec,
            generation: self.cert.metadata.generation.unwrap(),
            status: self.cert.status.as_ref().unwrap(),
            secret: self.secret.as_ref(),
            next_key: self.next_key.as_ref(),
            issuer: &self.issuer,
            now: self.now,
            last_poll: self.last_poll,
            issued_check: self.issued_check.as_ref(),
            secret_held_by: self.secret_held_by.as_deref(),
            first_key_name: self.first_key_name.as_deref(),
        })
    }

    /// Makes the status say what a finished issuance of the Secret's certificate says.
    fn settle_status(mut self) -> Self {
        let leaf = self.secret.as_ref().unwrap().matched_leaf().unwrap().clone();
        let generation = self.cert.metadata.generation;
        let renew_at =
            crate::certificate::renewal::renewal_time(&self.cert.spec, leaf.not_before, leaf.not_after);
        let status = self.status();
        crate::api::conditions::upsert(
            &mut status.conditions,
            ConditionValue {
                type_: READY,
                status: true,
                reason: "Ready",
                message: "ok".into(),
                observed_generation: generation,
            },
            &Time(at(NOW)),
        );
        status.serial_number = Some(leaf.serial_hex.clone());
        status.public_key_sha256 = Some(crate::pki::spki_sha256_hex(&leaf.spki_der));
        status.not_after = Some(Time(leaf.not_after));
        status.renewal_time = Some(Time(renew_at));
        status.observed_generation = generation;
        self
    }

    fn key_facts() -> KeyFacts {
        KeyFacts::of(&PrivateKey::generate(KeyAlgorithm::ECDSA, None).unwrap())
    }
}

impl World {
    fn settle_status_expired(self) -> Self {
        self
    }
}

mod issuing;
mod renewing;
