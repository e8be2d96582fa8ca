//! The certificate profile: what an Issuer's health check reads and the Issuer's status
//! summarises.

use serde::Deserialize;

use super::lenient_i64;

/// A certificate profile (`GET /mpki/api/v2/profile/{id}`, or one item of the list).
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub enrollment_method: Option<String>,
    /// `third_party_app` issues at once; `manual_approval` (and the other methods) may leave a
    /// request pending.
    #[serde(default)]
    pub authentication_method: Option<String>,
    /// The spec spells it `X509`/`PKCS7`, the tutorial `x509`/`pkcs7`: compare ignoring case.
    #[serde(default)]
    pub certificate_delivery_format: Option<String>,
    /// The tutorial's list shows this spelling too.
    #[serde(default)]
    pub cert_delivery_format: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub renewal_period_days: Option<i64>,
    /// Whether `validity` in a request is honoured; otherwise the profile's validity applies.
    #[serde(default)]
    pub override_cert_validity_via_api: Option<bool>,
    #[serde(default)]
    pub certificate: Option<ProfileCertificate>,
}

/// The certificate template part of a profile.
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileCertificate {
    #[serde(default)]
    pub validity: Option<ProfileValidity>,
}

/// A profile's own validity; `duration` is read leniently (a number or a string of digits).
#[derive(Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileValidity {
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub duration: Option<i64>,
}

impl Profile {
    pub fn is_active(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("active"))
    }

    pub fn is_rest_api(&self) -> bool {
        self.enrollment_method
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("rest_api"))
    }

    pub fn delivery_format(&self) -> Option<&str> {
        self.certificate_delivery_format
            .as_deref()
            .or(self.cert_delivery_format.as_deref())
    }

    /// Only `third_party_app` profiles are documented to issue at once; any other (or no)
    /// authentication method may answer a submit with a pending request.
    pub fn may_need_approval(&self) -> bool {
        !self
            .authentication_method
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("third_party_app"))
    }

    /// Whether a requested validity is honoured. Unknown counts as no: sending it anyway
    /// could be refused.
    pub fn allows_validity_override(&self) -> bool {
        self.override_cert_validity_via_api == Some(true)
    }

    /// The profile's own validity as text ("365 days"), if it says.
    pub fn validity_text(&self) -> Option<String> {
        let v = self.certificate.as_ref()?.validity.as_ref()?;
        Some(format!("{} {}", v.duration?, v.unit.as_deref()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_profile_parses() {
        let body = r#"[{"id":"d6743d9a","name":"Profile name","status":"Active","renewal_period_days":30,
            "certificate_delivery_format":"PKCS7","enrollment_method":"rest_api",
            "authentication_method":"third_party_app","override_cert_validity_via_api":true,
            "certificate":{"validity":{"unit":"days","duration":"365"}},"unknown":{"x":1}}]"#;
        let profiles: Vec<Profile> = serde_json::from_str(body).unwrap();
        let p = &profiles[0];
        assert!(p.is_active() && p.is_rest_api() && !p.may_need_approval() && p.allows_validity_override());
        assert_eq!(p.delivery_format(), Some("PKCS7"));
        assert_eq!(p.renewal_period_days, Some(30));
        assert_eq!(p.validity_text().as_deref(), Some("365 days"));
        let manual: Profile =
            serde_json::from_str(r#"{"id":"x","authentication_method":"manual_approval"}"#).unwrap();
        assert!(manual.may_need_approval() && !manual.allows_validity_override());
    }
}
