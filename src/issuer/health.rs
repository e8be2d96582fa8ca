//! The verdict of an issuer health check, as a pure function of what TLM answered.

use crate::api::ProfileSummary;
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm_types::Profile;

/// Outcome of one check: the `Ready` condition and the profile summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub ready: bool,
    pub reason: &'static str,
    pub message: String,
    pub profile: Option<ProfileSummary>,
}

impl Health {
    fn not_ready(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            ready: false,
            reason,
            message: message.into(),
            profile: None,
        }
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
    }
}

/// Judges the profile list (or the error listing it) against the configured profile ID.
pub fn judge(profile_id: &str, listed: Result<Vec<Profile>, ServiceError>) -> Health {
    let profiles = match listed {
        Ok(p) => p,
        Err(e) => {
            let reason = match e.class() {
                ErrorClass::Auth => "Unauthorized",
                ErrorClass::Transient => "Unreachable",
                ErrorClass::Config => "InvalidConfiguration",
                _ => "TLMError",
            };
            let hint = match reason {
                "Unauthorized" => " (check the API key Secret and the service user's role)",
                "Unreachable" => " (will retry)",
                _ => "",
            };
            return Health::not_ready(reason, format!("{e}{hint}"));
        }
    };
    let Some(profile) = profiles.iter().find(|p| p.id == profile_id) else {
        return Health::not_ready(
            "ProfileNotFound",
            format!(
                "profile {profile_id} is not among the {} profiles this API key can see",
                profiles.len()
            ),
        );
    };
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
        let list = || {
            Ok(vec![
                profile("a", "Active", "rest_api"),
                profile("b", "Disabled", "rest_api"),
                profile("c", "Active", "scep"),
            ])
        };
        assert!(judge("a", list()).ready);
        assert_eq!(judge("b", list()).reason, "ProfileNotActive");
        assert_eq!(judge("c", list()).reason, "ProfileNotRestApi");
        assert_eq!(judge("z", list()).reason, "ProfileNotFound");
        let unauthorized = ServiceError::Service {
            service: "TLM",
            endpoint: "profiles",
            status: 401,
            code: Some("AUTHORIZATION_ERROR".into()),
            message: None,
            retry_after: None,
        };
        let h = judge("a", Err(unauthorized));
        assert_eq!(h.reason, "Unauthorized");
        assert!(h.message.contains("check the API key Secret"));
        assert_eq!(
            judge(
                "a",
                Err(ServiceError::Timeout {
                    service: "TLM",
                    endpoint: "profiles"
                })
            )
            .reason,
            "Unreachable"
        );
    }
}
