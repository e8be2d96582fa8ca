//! "Rogue" issuances injected into the CT feed: certificates for watched names that this
//! operator never ordered, signed by a CA that is not the sim's.

use rand::RngCore;
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, Issuer, KeyPair, PublicKeyData,
};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::ca::{IssuedCertificate, IssuerIdentity, LeafSpec, leaf_params, random_serial};
use crate::certspotter::feed::IssuanceDraft;
use crate::digest::sha256_hex;
use crate::names::{SubjectAltNames, SubjectFields, normalize_dns_name};

pub const DEFAULT_ROGUE_ISSUER: &str = "C=US, O=Rogue CA, CN=Rogue";

/// RFC 6962 precertificate poison: marks a certificate as a CT precertificate.
const CT_POISON_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    pub dns_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_pubkey_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey_sha256: Option<String>,
    /// RFC 3339; default now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// RFC 3339; default 90 days after `not_before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    #[serde(default)]
    pub precert: bool,
    #[serde(default = "yes")]
    pub with_cert: bool,
}

fn yes() -> bool {
    true
}

impl Default for Injection {
    fn default() -> Self {
        Injection {
            dns_names: Vec::new(),
            issuer_name: None,
            issuer_pubkey_sha256: None,
            pubkey_sha256: None,
            not_before: None,
            not_after: None,
            precert: false,
            with_cert: true,
        }
    }
}

/// The separate CA that signs injected certificates; its DN varies with `issuer_name`.
pub struct RogueCa {
    key: KeyPair,
}

impl RogueCa {
    pub fn new() -> anyhow::Result<Self> {
        Ok(RogueCa {
            key: KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
        })
    }

    pub fn draft(&self, injection: &Injection) -> Result<IssuanceDraft, String> {
        let dns_names = normalized_names(&injection.dns_names)?;
        let issuer_name = injection
            .issuer_name
            .clone()
            .unwrap_or_else(|| DEFAULT_ROGUE_ISSUER.to_string());
        let issuer_dn = parse_dn(&issuer_name)?;
        let issuer = IssuerIdentity {
            common_name: common_name_of(&issuer_name),
            name: issuer_name,
            pubkey_sha256: match &injection.issuer_pubkey_sha256 {
                Some(given) => hex_digest(given, "issuer_pubkey_sha256")?,
                None => sha256_hex(&self.key.subject_public_key_info()),
            },
        };
        let not_before = match &injection.not_before {
            Some(text) => parse_time(text, "not_before")?,
            None => OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap_or_else(|_| OffsetDateTime::now_utc()),
        };
        let not_after = match &injection.not_after {
            Some(text) => parse_time(text, "not_after")?,
            None => not_before + Duration::days(90),
        };
        if not_after <= not_before {
            return Err("not_after must be later than not_before".into());
        }

        // A given subject key hash cannot be backed by a real certificate, so none is attached.
        if let Some(pubkey) = &injection.pubkey_sha256 {
            return Ok(IssuanceDraft {
                tbs_sha256: random_digest(),
                dns_names,
                pubkey_sha256: hex_digest(pubkey, "pubkey_sha256")?,
                issuer,
                not_before,
                not_after,
                cert: None,
            });
        }
        if !injection.with_cert {
            return Ok(IssuanceDraft {
                tbs_sha256: random_digest(),
                dns_names,
                pubkey_sha256: random_digest(),
                issuer,
                not_before,
                not_after,
                cert: None,
            });
        }
        let cert = self
            .sign(&dns_names, issuer_dn, not_before, not_after, injection.precert)
            .map_err(|e| format!("could not make the injected certificate: {e}"))?;
        Ok(IssuanceDraft {
            tbs_sha256: cert.tbs_sha256.clone(),
            dns_names,
            pubkey_sha256: cert.spki_sha256.clone(),
            issuer,
            not_before,
            not_after,
            cert: Some((cert.der, injection.precert, cert.serial_hex)),
        })
    }

    fn sign(
        &self,
        dns_names: &[String],
        issuer_dn: DistinguishedName,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        precert: bool,
    ) -> anyhow::Result<IssuedCertificate> {
        let mut issuer_params = CertificateParams::default();
        issuer_params.distinguished_name = issuer_dn;
        issuer_params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer = Issuer::new(issuer_params, &self.key);

        let subject_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let serial = random_serial();
        let subject = SubjectFields {
            common_name: dns_names.first().filter(|name| name.len() <= 64).cloned(),
            ..SubjectFields::default()
        };
        let sans = SubjectAltNames {
            dns_names: dns_names.to_vec(),
            ..SubjectAltNames::default()
        };
        let mut params = leaf_params(&LeafSpec {
            serial: &serial,
            subject: &subject,
            sans: &sans,
            not_before,
            not_after,
            public_key: &rcgen::SubjectPublicKeyInfo::from_der(&subject_key.subject_public_key_info())?,
            key_encipherment: false,
        })?;
        if precert {
            let mut poison = CustomExtension::from_oid_content(CT_POISON_OID, vec![0x05, 0x00]);
            poison.set_criticality(true);
            params.custom_extensions.push(poison);
        }
        let cert = params.signed_by(&subject_key, &issuer)?;
        IssuedCertificate::from_der(cert.der().to_vec())
    }
}

fn normalized_names(names: &[String]) -> Result<Vec<String>, String> {
    if names.is_empty() {
        return Err("dns_names must not be empty".into());
    }
    let mut out = names
        .iter()
        .map(|name| normalize_dns_name(name).ok_or_else(|| format!("{name:?} is not a DNS name")))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

/// Parses the simple `K=V, K=V` DN form used in Cert Spotter's issuer names (no escaping).
fn parse_dn(text: &str) -> Result<DistinguishedName, String> {
    let mut dn = DistinguishedName::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("issuer_name part {part:?} is not K=V"))?;
        let value = value.trim().trim_matches('"');
        let ty = match key.trim().to_ascii_uppercase().as_str() {
            "C" => DnType::CountryName,
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "CN" => DnType::CommonName,
            other => return Err(format!("unsupported attribute {other:?} in issuer_name")),
        };
        dn.push(ty, value);
    }
    Ok(dn)
}

/// The CN of a `K=V, K=V` issuer name, if it has one.
fn common_name_of(text: &str) -> Option<String> {
    text.split(',').map(str::trim).find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("CN")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

fn parse_time(text: &str, field: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("{field} is not RFC 3339: {e}"))
}

fn hex_digest(text: &str, field: &str) -> Result<String, String> {
    let lower = text.trim().to_ascii_lowercase();
    if lower.len() == 64 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(lower)
    } else {
        Err(format!("{field} must be 64 hex characters"))
    }
}

fn random_digest() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, X509Certificate};

    #[test]
    fn injected_certificate_is_real_and_from_the_rogue_issuer() {
        let rogue = RogueCa::new().expect("rogue ca");
        let draft = rogue
            .draft(&Injection {
                dns_names: vec!["Evil.Example.com".into()],
                ..Injection::default()
            })
            .expect("draft");
        assert_eq!(draft.dns_names, vec!["evil.example.com"]);
        assert_eq!(draft.issuer.name, DEFAULT_ROGUE_ISSUER);
        assert_eq!(draft.issuer.common_name.as_deref(), Some("Rogue"));
        assert_eq!(common_name_of("C=US, O=No CN"), None);
        let (der, precert, _) = draft.cert.expect("with_cert defaults to true");
        assert!(!precert);
        let (_, cert) = X509Certificate::from_der(&der).expect("parses");
        assert_eq!(cert.issuer().to_string(), DEFAULT_ROGUE_ISSUER);
        assert_eq!(sha256_hex(cert.public_key().raw), draft.pubkey_sha256);
    }

    #[test]
    fn given_key_hash_means_no_cert() {
        let rogue = RogueCa::new().expect("rogue ca");
        let hash = "AB".repeat(32);
        let draft = rogue
            .draft(&Injection {
                dns_names: vec!["a.example.com".into()],
                pubkey_sha256: Some(hash.clone()),
                ..Injection::default()
            })
            .expect("draft");
        assert!(draft.cert.is_none());
        assert_eq!(draft.pubkey_sha256, hash.to_ascii_lowercase());
    }

    #[test]
    fn refuses_bad_injections() {
        let rogue = RogueCa::new().expect("rogue ca");
        assert!(rogue.draft(&Injection::default()).is_err());
        let bad_time = Injection {
            dns_names: vec!["a.example.com".into()],
            not_before: Some("yesterday".into()),
            ..Injection::default()
        };
        assert!(rogue.draft(&bad_time).is_err());
        let bad_issuer = Injection {
            dns_names: vec!["a.example.com".into()],
            issuer_name: Some("X=1".into()),
            ..Injection::default()
        };
        assert!(rogue.draft(&bad_issuer).is_err());
    }
}
