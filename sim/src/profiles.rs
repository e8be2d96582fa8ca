//! The fixed catalogue of TLM certificate profiles the simulator offers, each exercising one
//! behaviour a client must handle.

use std::time::Duration;

use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryFormat {
    X509,
    Pkcs7,
}

impl DeliveryFormat {
    /// As enrollment answers spell it (the spec's `delivery_format` enum: `x509` | `PKCS7`).
    pub fn name(self) -> &'static str {
        match self {
            DeliveryFormat::X509 => "x509",
            DeliveryFormat::Pkcs7 => "PKCS7",
        }
    }

    /// As the profile object spells it (`certificate_delivery_format`: `X509` | `PKCS7`).
    pub fn profile_name(self) -> &'static str {
        match self {
            DeliveryFormat::X509 => "X509",
            DeliveryFormat::Pkcs7 => "PKCS7",
        }
    }
}

/// When a submitted request turns into a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuanceMode {
    Immediate,
    /// Waits for an approval (admin endpoint or `auto_approve_after_polls`).
    Approval,
    /// Microsoft-CA-template style: no serial at submit, the client polls the pickup endpoint.
    Pickup,
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub id: &'static str,
    pub name: &'static str,
    pub active: bool,
    pub enrollment_method: &'static str,
    pub delivery: DeliveryFormat,
    pub issuance: IssuanceMode,
    pub validity: Duration,
    pub allow_validity_override: bool,
    pub common_name_required: bool,
    pub renewal_period_days: u32,
    /// Every certificate gets a decoy twin with the same serial (see `prof-collide`).
    pub collide: bool,
}

impl Profile {
    fn immediate(id: &'static str, name: &'static str) -> Profile {
        Profile {
            id,
            name,
            active: true,
            enrollment_method: "rest_api",
            delivery: DeliveryFormat::X509,
            issuance: IssuanceMode::Immediate,
            validity: Duration::from_secs(365 * 86_400),
            allow_validity_override: true,
            common_name_required: false,
            renewal_period_days: 30,
            collide: false,
        }
    }

    /// The spec's profile `authentication_method`: only `third_party_app` issues immediately.
    pub fn authentication_method(&self) -> &'static str {
        match self.issuance {
            IssuanceMode::Approval => "manual_approval",
            IssuanceMode::Immediate | IssuanceMode::Pickup => "third_party_app",
        }
    }

    /// The reference's profile object, trimmed to the fields a client acts on.
    pub fn to_json(&self) -> Value {
        let (unit, duration) = validity_unit(self.validity);
        json!({
            "id": self.id,
            "name": self.name,
            "status": if self.active { "Active" } else { "Disabled" },
            "signature_algorithm": "SHA256_WITH_ECDSA",
            "publish_to_public_directory": false,
            "renewal_period_days": self.renewal_period_days,
            "renewal_window_days": self.renewal_period_days,
            "duplicate_cert_policy": true,
            "override_cert_validity_via_api": self.allow_validity_override,
            "certificate_delivery_format": self.delivery.profile_name(),
            "enrollment_method": self.enrollment_method,
            "authentication_method": self.authentication_method(),
            "automated_renewal": false,
            "certificate": {
                "validity": {"unit": unit, "duration": duration},
                "subject": {
                    "attributes": [
                        {
                            "type": "common_name",
                            "mandatory": self.common_name_required,
                            "multiple": false,
                            "sources": [{"mandatory": self.common_name_required,
                                         "source": "ENTERED_BY_USER_DURING_ENROLLMENT"}]
                        }
                    ]
                },
                "extensions": {
                    "san": {
                        "critical": false,
                        "attributes": [
                            {"type": "dns_names", "mandatory": false, "multiple": true},
                            {"type": "ip_addresses", "mandatory": false, "multiple": true},
                            {"type": "emails", "mandatory": false, "multiple": true},
                            {"type": "uris", "mandatory": false, "multiple": true},
                            {"type": "user_principal_names", "mandatory": false, "multiple": true}
                        ]
                    }
                }
            }
        })
    }
}

/// Whole days are shown in days; anything shorter (`prof-short`) in seconds.
fn validity_unit(validity: Duration) -> (&'static str, u64) {
    let seconds = validity.as_secs();
    if seconds >= 86_400 && seconds.is_multiple_of(86_400) {
        ("days", seconds / 86_400)
    } else {
        ("seconds", seconds)
    }
}

pub fn catalogue(short_validity: Duration) -> Vec<Profile> {
    vec![
        Profile::immediate("prof-x509", "Sim TLS server, X.509 delivery"),
        Profile {
            delivery: DeliveryFormat::Pkcs7,
            ..Profile::immediate("prof-pkcs7", "Sim TLS server, PKCS#7 delivery")
        },
        Profile {
            issuance: IssuanceMode::Approval,
            ..Profile::immediate("prof-pending", "Sim approval required")
        },
        Profile {
            validity: short_validity,
            allow_validity_override: false,
            ..Profile::immediate("prof-short", "Sim short-lived")
        },
        Profile {
            common_name_required: true,
            ..Profile::immediate("prof-cn-required", "Sim common name required")
        },
        Profile {
            issuance: IssuanceMode::Pickup,
            ..Profile::immediate("prof-pickup", "Sim Microsoft CA template")
        },
        Profile {
            active: false,
            ..Profile::immediate("prof-disabled", "Sim disabled profile")
        },
        Profile {
            enrollment_method: "scep",
            ..Profile::immediate("prof-scep", "Sim SCEP-only profile")
        },
        Profile {
            collide: true,
            ..Profile::immediate("prof-collide", "Sim shared serial numbers")
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_profile_shows_seconds() {
        let profiles = catalogue(Duration::from_secs(60));
        let short = profiles
            .iter()
            .find(|p| p.id == "prof-short")
            .expect("prof-short");
        assert_eq!(
            short.to_json()["certificate"]["validity"],
            json!({"unit": "seconds", "duration": 60})
        );
        let x509 = profiles.iter().find(|p| p.id == "prof-x509").expect("prof-x509");
        assert_eq!(
            x509.to_json()["certificate"]["validity"],
            json!({"unit": "days", "duration": 365})
        );
        assert_eq!(profiles.len(), 9);
        assert_eq!(x509.to_json()["certificate_delivery_format"], "X509");
        assert_eq!(x509.to_json()["authentication_method"], "third_party_app");
        assert!(x509.to_json().get("approval_required").is_none());
        let pending = profiles
            .iter()
            .find(|p| p.id == "prof-pending")
            .expect("prof-pending");
        assert_eq!(pending.to_json()["authentication_method"], "manual_approval");
    }
}
