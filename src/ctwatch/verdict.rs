//! Is an issuance one this cluster asked for?

use std::collections::HashSet;

use crate::api::{CTWatchSpec, Verdict};
use crate::clients::certspotter::Issuance;

/// The verdict and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub reason: &'static str,
}

/// Expected when the key is one this operator generated (and the watch trusts those), or the
/// issuer is listed in `expectedIssuers` (by public key hash, or by a name substring);
/// unexpected otherwise.
pub fn judge(issuance: &Issuance, spec: &CTWatchSpec, managed_keys: &HashSet<String>) -> Judgement {
    if spec.treat_managed_as_expected
        && let Some(key) = &issuance.pubkey_sha256
        && managed_keys.contains(&key.to_ascii_lowercase())
    {
        return Judgement {
            verdict: Verdict::Expected,
            reason: "ManagedKey",
        };
    }
    let issuer = issuance.issuer.clone().unwrap_or_default();
    let issuer_key = issuer.pubkey_sha256.as_deref().map(str::to_ascii_lowercase);
    let issuer_name = issuer.name.as_deref().map(str::to_ascii_lowercase);
    let listed = spec.expected_issuers.iter().any(|expected| {
        let by_key = expected
            .pubkey_sha256
            .as_deref()
            .is_some_and(|k| Some(k.to_ascii_lowercase()) == issuer_key);
        let by_name = expected.name.as_deref().is_some_and(|n| {
            issuer_name
                .as_deref()
                .is_some_and(|name| name.contains(&n.to_ascii_lowercase()))
        });
        by_key || by_name
    });
    if listed {
        return Judgement {
            verdict: Verdict::Expected,
            reason: "ExpectedIssuer",
        };
    }
    Judgement {
        verdict: Verdict::Unexpected,
        reason: "UnknownKeyAndIssuer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ExpectedIssuer;
    use crate::clients::certspotter::IssuerInfo;

    fn spec() -> CTWatchSpec {
        serde_json::from_value(serde_json::json!({"domains": ["example.com"]})).unwrap()
    }

    fn issuance(key: &str, issuer: &str, issuer_key: &str) -> Issuance {
        Issuance {
            id: "1".into(),
            pubkey_sha256: Some(key.into()),
            issuer: Some(IssuerInfo {
                name: Some(issuer.into()),
                pubkey_sha256: Some(issuer_key.into()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn managed_keys_and_expected_issuers_are_expected() {
        let managed: HashSet<String> = ["aa".to_string()].into();
        let mut spec = spec();
        assert_eq!(
            judge(&issuance("AA", "CN=Rogue", "ff"), &spec, &managed).reason,
            "ManagedKey"
        );
        assert_eq!(
            judge(&issuance("bb", "CN=Rogue", "ff"), &spec, &managed).verdict,
            Verdict::Unexpected
        );
        spec.treat_managed_as_expected = false;
        assert_eq!(
            judge(&issuance("aa", "CN=Rogue", "ff"), &spec, &managed).verdict,
            Verdict::Unexpected
        );
        spec.expected_issuers = vec![
            ExpectedIssuer {
                name: Some("digicert global".into()),
                pubkey_sha256: None,
            },
            ExpectedIssuer {
                name: None,
                pubkey_sha256: Some("cc".into()),
            },
        ];
        let digicert = issuance(
            "bb",
            "C=US, O=DigiCert Inc, CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1",
            "ff",
        );
        assert_eq!(judge(&digicert, &spec, &managed).reason, "ExpectedIssuer");
        assert_eq!(
            judge(&issuance("bb", "CN=Other", "CC"), &spec, &managed).reason,
            "ExpectedIssuer"
        );
        assert_eq!(
            judge(&issuance("bb", "CN=Other", "dd"), &spec, &managed).verdict,
            Verdict::Unexpected
        );
    }
}
