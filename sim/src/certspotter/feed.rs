//! The simulated CT view: every issuance in discovery order, as Cert Spotter reports them.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ca::IssuerIdentity;

#[derive(Clone, Debug)]
pub struct LoggedCertificate {
    pub id: u64,
    pub precert: bool,
    pub sha256: String,
    pub der: Vec<u8>,
    pub serial_hex: String,
}

#[derive(Clone, Debug)]
pub struct Issuance {
    pub id: u64,
    pub tbs_sha256: String,
    pub dns_names: Vec<String>,
    pub pubkey_sha256: String,
    pub issuer: IssuerIdentity,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub cert: Option<LoggedCertificate>,
}

/// An issuance before the feed numbered it.
pub struct IssuanceDraft {
    pub tbs_sha256: String,
    pub dns_names: Vec<String>,
    pub pubkey_sha256: String,
    pub issuer: IssuerIdentity,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// (DER, precert?, serial hex)
    pub cert: Option<(Vec<u8>, bool, String)>,
}

/// Logs a certificate the sim's CA issued in the CT feed, as a public CA's certificate would be
/// (the TLM, CertCentral and Qualys CertView issuers all do).
pub fn publish(
    state: &crate::state::AppState,
    common_name: Option<&str>,
    dns_names: &[String],
    issued: &crate::ca::IssuedCertificate,
) {
    let draft = IssuanceDraft {
        tbs_sha256: issued.tbs_sha256.clone(),
        dns_names: crate::names::ct_dns_names(common_name, dns_names),
        pubkey_sha256: issued.spki_sha256.clone(),
        issuer: state.ca.identity.clone(),
        not_before: issued.not_before,
        not_after: issued.not_after,
        cert: Some((issued.der.clone(), false, issued.serial_hex.clone())),
    };
    crate::state::write(&state.feed).append(draft);
}

/// Which optional fields a query asked for with `expand`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expand {
    pub dns_names: bool,
    pub issuer: bool,
    pub cert: bool,
}

#[derive(Default)]
pub struct Feed {
    issuances: Vec<Arc<Issuance>>,
    index_by_serial: HashMap<String, usize>,
    last_id: u64,
}

impl Feed {
    pub fn append(&mut self, draft: IssuanceDraft) -> u64 {
        self.last_id += 1;
        let id = self.last_id;
        let cert = draft.cert.map(|(der, precert, serial_hex)| {
            self.last_id += 1;
            LoggedCertificate {
                id: self.last_id,
                precert,
                sha256: crate::digest::sha256_hex(&der),
                der,
                serial_hex,
            }
        });
        if let Some(cert) = &cert {
            self.index_by_serial
                .insert(ct_serial(&cert.serial_hex), self.issuances.len());
        }
        self.issuances.push(Arc::new(Issuance {
            id,
            tbs_sha256: draft.tbs_sha256,
            dns_names: draft.dns_names,
            pubkey_sha256: draft.pubkey_sha256,
            issuer: draft.issuer,
            not_before: draft.not_before,
            not_after: draft.not_after,
            cert,
        }));
        id
    }

    /// Issuances discovered after the one with id `after` (ids only grow, so this is a suffix).
    pub fn after(&self, after: u64) -> &[Arc<Issuance>] {
        let start = self.issuances.partition_point(|issuance| issuance.id <= after);
        &self.issuances[start..]
    }

    /// The issuance whose certificate has this serial, spelt exactly as [`ct_serial`] spells
    /// it (CertCentral's examples: lower-case hex, no leading zeros, no colons).
    pub fn find_by_serial(&self, serial: &str) -> Option<Arc<Issuance>> {
        let index = *self.index_by_serial.get(serial)?;
        self.issuances.get(index).cloned()
    }
}

/// A serial as CertCentral's CT monitor spells it: lower-case hex without leading zeros.
pub fn ct_serial(serial_hex: &str) -> String {
    let lower = serial_hex.to_ascii_lowercase();
    match lower.trim_start_matches('0') {
        "" => "0".to_string(),
        trimmed => trimmed.to_string(),
    }
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

impl Issuance {
    pub fn to_json(&self, expand: Expand) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), json!(self.id.to_string()));
        object.insert("tbs_sha256".into(), json!(self.tbs_sha256));
        if expand.dns_names {
            object.insert("dns_names".into(), json!(self.dns_names));
        }
        object.insert("pubkey_sha256".into(), json!(self.pubkey_sha256));
        if expand.issuer {
            object.insert(
                "issuer".into(),
                json!({"name": self.issuer.name, "pubkey_sha256": self.issuer.pubkey_sha256}),
            );
        }
        object.insert("not_before".into(), json!(rfc3339(self.not_before)));
        object.insert("not_after".into(), json!(rfc3339(self.not_after)));
        if expand.cert
            && let Some(cert) = &self.cert
        {
            object.insert(
                "cert".into(),
                json!({
                    "id": cert.id.to_string(),
                    "type": if cert.precert { "precert" } else { "cert" },
                    "sha256": cert.sha256,
                    "data": STANDARD.encode(&cert.der),
                }),
            );
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(serial: Option<&str>) -> IssuanceDraft {
        let now = OffsetDateTime::now_utc();
        IssuanceDraft {
            tbs_sha256: "00".into(),
            dns_names: vec!["a.example.com".into()],
            pubkey_sha256: "11".into(),
            issuer: IssuerIdentity {
                name: "CN=x".into(),
                common_name: Some("x".into()),
                pubkey_sha256: "22".into(),
            },
            not_before: now,
            not_after: now,
            cert: serial.map(|s| (vec![1, 2, 3], false, s.to_string())),
        }
    }

    #[test]
    fn ids_increase_and_after_is_a_suffix() {
        let mut feed = Feed::default();
        let first = feed.append(draft(Some("0ABC")));
        let second = feed.append(draft(None));
        assert!(second > first);
        assert_eq!(feed.after(0).len(), 2);
        assert_eq!(feed.after(first).len(), 1);
        assert_eq!(feed.after(second).len(), 0);
        assert_eq!(feed.find_by_serial("abc").map(|i| i.id), Some(first));
        for other_spelling in ["ab:c", "ABC", "0abc", "abd"] {
            assert!(feed.find_by_serial(other_spelling).is_none(), "{other_spelling}");
        }
        assert_eq!(ct_serial("00"), "0");
    }

    #[test]
    fn expand_controls_optional_fields() {
        let mut feed = Feed::default();
        feed.append(draft(Some("01")));
        let issuance = &feed.after(0)[0];
        let bare = issuance.to_json(Expand::default());
        assert!(
            bare.get("dns_names").is_none() && bare.get("issuer").is_none() && bare.get("cert").is_none()
        );
        let full = issuance.to_json(Expand {
            dns_names: true,
            issuer: true,
            cert: true,
        });
        assert_eq!(full["cert"]["type"], "cert");
        assert_eq!(full["dns_names"][0], "a.example.com");
        assert_eq!(full["id"], json!(issuance.id.to_string()));
    }
}
