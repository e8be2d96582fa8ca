//! The verdict of an issuer health check, as a pure function of what TLM answered.

use crate::api::{
    CertCentralIssuerConfig, CertCentralSummary, ProfileSummary, QualysCertViewIssuerConfig, QualysSummary,
};
use crate::clients::certcentral_order_types::OrderPage;
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm_types::Profile;

/// Outcome of one check: the `Ready` condition and the profile summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub ready: bool,
    pub reason: &'static str,
    pub message: String,
    pub profile: Option<ProfileSummary>,
    pub cert_central: Option<CertCentralSummary>,
    pub qualys: Option<QualysSummary>,
}

impl Health {
    pub fn not_ready(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            ready: false,
            reason,
            message: message.into(),
            profile: None,
            cert_central: None,
            qualys: None,
        }
    }
}

/// Judges a CertCentral issuer by one cheap authenticated read: `GET /order/certificate` with
/// `limit=1` (a valid key with the right to see orders answers 200). The product and
/// organization are not checked here (no public read for them is in use); an order for a
/// product the key may not use is refused when placed.
pub fn judge_certcentral(config: &CertCentralIssuerConfig, read: Result<OrderPage, ServiceError>) -> Health {
    let page = match read {
        Ok(page) => page,
        Err(e) => {
            let (reason, hint) = match e.class() {
                ErrorClass::Auth if e.is_access_denied() => (
                    "AccessDenied",
                    " (the API key is valid but may not list orders: check its role and restrictions in CertCentral)",
                ),
                ErrorClass::Auth => ("Unauthorized", " (check the API key Secret)"),
                ErrorClass::Transient => ("Unreachable", " (will retry)"),
                ErrorClass::Config => ("InvalidConfiguration", ""),
                _ => ("CertCentralError", ""),
            };
            return Health::not_ready(reason, format!("{e}{hint}"));
        }
    };
    let summary = CertCentralSummary {
        product_name_id: config.product_name_id.clone(),
        organization_id: config.organization_id,
        skip_approval: config.skip_approval.unwrap_or(false),
        visible_orders: page.page.total,
    };
    let approval = if summary.skip_approval {
        "orders skip approval"
    } else {
        "orders wait for an approver in CertCentral"
    };
    Health {
        ready: true,
        reason: "Verified",
        message: format!(
            "the CertCentral API key is accepted; orders go to product {} ({approval})",
            config.product_name_id
        ),
        profile: None,
        cert_central: Some(summary),
        qualys: None,
    }
}

/// Judges a Qualys CertView issuer by fetching a token (`POST /auth`): the user name and
/// password work. Whether the user may enroll for the organization and product is only known
/// when a request is placed (no public read shows it).
pub fn judge_qualys(config: &QualysCertViewIssuerConfig, auth: Result<(), ServiceError>) -> Health {
    if let Err(e) = auth {
        let (reason, hint) = match e.class() {
            ErrorClass::Auth => (
                "Unauthorized",
                " (check the user name and password in the credentials Secret)",
            ),
            ErrorClass::Transient => ("Unreachable", " (will retry)"),
            ErrorClass::Config => ("InvalidConfiguration", ""),
            _ => ("QualysError", ""),
        };
        return Health::not_ready(reason, format!("{e}{hint}"));
    }
    Health {
        ready: true,
        reason: "Verified",
        message: format!(
            "the Qualys credentials are accepted; requests order DigiCert product {} for organization {} and wait for approval by {}",
            config.product_name_id,
            config.organization_id,
            config.approver_user_names.join(", ")
        ),
        profile: None,
        cert_central: None,
        qualys: Some(QualysSummary {
            product_name_id: config.product_name_id.clone(),
            organization_id: config.organization_id,
            approver_user_names: config.approver_user_names.clone(),
        }),
    }
}

pub fn summarize(profile: &Profile) -> ProfileSummary {
    ProfileSummary {
        id: profile.id.clone(),
        name: profile.name.clone(),
        status: profile.status.clone(),
        enrollment_method: profile.enrollment_method.clone(),
        delivery_format: profile.delivery_format().map(str::to_string),
        renewal_period_days: profile.renewal_period_days,
        authentication_method: profile.authentication_method.clone(),
        validity_override: Some(profile.allows_validity_override()),
        validity: profile.validity_text(),
    }
}

/// Judges the configured profile (or the error reading it).
pub fn judge(profile_id: &str, read: Result<Profile, ServiceError>) -> Health {
    let profile = match read {
        Ok(p) => p,
        Err(e) => {
            let (reason, hint) = match e.class() {
                ErrorClass::Auth if e.is_access_denied() => (
                    "AccessDenied",
                    format!(
                        " (the API key is valid but has no access to profile {profile_id} or its business unit, or the profile does not exist)"
                    ),
                ),
                ErrorClass::Auth => (
                    "Unauthorized",
                    " (check the API key Secret and the service user's role)".to_string(),
                ),
                ErrorClass::NotFound => (
                    "ProfileNotFound",
                    format!(" (profile {profile_id} is not visible to this API key)"),
                ),
                ErrorClass::Transient => ("Unreachable", " (will retry)".to_string()),
                ErrorClass::Config => ("InvalidConfiguration", String::new()),
                _ => ("TLMError", String::new()),
            };
            return Health::not_ready(reason, format!("{e}{hint}"));
        }
    };
    if profile.id != profile_id {
        return Health::not_ready(
            "ProfileNotFound",
            format!(
                "TLM answered with profile {:?} when asked for {profile_id}",
                profile.id
            ),
        );
    }
    let profile = &profile;
    let summary = summarize(profile);
    let name = profile.name.clone().unwrap_or_else(|| profile.id.clone());
    if !profile.is_active() {
        return Health {
            profile: Some(summary),
            ..Health::not_ready(
                "ProfileNotActive",
                format!(
                    "profile {name} has status {:?}; it must be Active",
                    profile.status.as_deref().unwrap_or("unknown")
                ),
            )
        };
    }
    if !profile.is_rest_api() {
        return Health {
            profile: Some(summary),
            ..Health::not_ready(
                "ProfileNotRestApi",
                format!(
                    "profile {name} uses enrollment method {:?}; it must be rest_api",
                    profile.enrollment_method.as_deref().unwrap_or("unknown")
                ),
            )
        };
    }
    Health {
        ready: true,
        reason: "Verified",
        message: format!("profile {name} is active and accepts REST API enrollment"),
        profile: Some(summary),
        cert_central: None,
        qualys: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str, status: &str, method: &str) -> Profile {
        Profile {
            id: id.into(),
            name: Some(format!("{id} name")),
            status: Some(status.into()),
            enrollment_method: Some(method.into()),
            ..Default::default()
        }
    }

    #[test]
    fn verdicts() {
        assert!(judge("a", Ok(profile("a", "Active", "rest_api"))).ready);
        assert_eq!(
            judge("b", Ok(profile("b", "Disabled", "rest_api"))).reason,
            "ProfileNotActive"
        );
        assert_eq!(
            judge("c", Ok(profile("c", "Active", "scep"))).reason,
            "ProfileNotRestApi"
        );
        assert_eq!(
            judge("z", Ok(profile("a", "Active", "rest_api"))).reason,
            "ProfileNotFound"
        );
        let error = |status: u16, code: &str| ServiceError::Service {
            service: "TLM",
            endpoint: "profile",
            status,
            code: Some(code.into()),
            message: None,
            retry_after: None,
        };
        let h = judge("a", Err(error(401, "invalid_api_key")));
        assert_eq!(h.reason, "Unauthorized");
        assert!(h.message.contains("check the API key Secret"));
        let h = judge("a", Err(error(403, "access_denied")));
        assert_eq!(h.reason, "AccessDenied");
        assert!(h.message.contains("business unit") && h.message.contains("does not exist"));
        assert_eq!(
            judge("a", Err(error(404, "resource_not_found"))).reason,
            "ProfileNotFound"
        );
        assert_eq!(
            judge(
                "a",
                Err(ServiceError::Timeout {
                    service: "TLM",
                    endpoint: "profile"
                })
            )
            .reason,
            "Unreachable"
        );
    }
}
