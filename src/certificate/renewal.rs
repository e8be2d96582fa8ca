//! When to renew: cert-manager's rule (2/3 of the issued lifetime) unless the spec says
//! `renewBefore` or `renewBeforePercentage`.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::api::CertificateSpec;

/// The moment a certificate valid from `not_before` to `not_after` should be renewed.
pub fn renewal_time(spec: &CertificateSpec, not_before: Timestamp, not_after: Timestamp) -> Timestamp {
    let lifetime = not_after.duration_since(not_before);
    if lifetime <= SignedDuration::ZERO {
        return not_before;
    }
    let before = match (spec.renew_before, spec.renew_before_percentage) {
        (Some(renew_before), _) => {
            let renew_before =
                SignedDuration::try_from(Duration::from(renew_before)).unwrap_or(SignedDuration::MAX);
            // A renewBefore longer than the issued lifetime (the issuer shortened it) falls back
            // to the default instead of renewing in a loop.
            if renew_before >= lifetime {
                lifetime / 3
            } else {
                renew_before
            }
        }
        (None, Some(percent)) => lifetime * percent.clamp(1, 99) / 100,
        (None, None) => lifetime / 3,
    };
    not_after - before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certificate::spec::tests::spec;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn default_is_two_thirds_of_the_lifetime() {
        assert_eq!(renewal_time(&spec(&["a"]), at(0), at(90)), at(60));
    }

    #[test]
    fn renew_before_and_percentage() {
        let mut s = spec(&["a"]);
        s.renew_before = Some(Duration::from_secs(10).into());
        assert_eq!(renewal_time(&s, at(0), at(90)), at(80));
        s.renew_before = Some(Duration::from_secs(1000).into());
        assert_eq!(
            renewal_time(&s, at(0), at(90)),
            at(60),
            "too long renewBefore falls back"
        );
        s.renew_before = None;
        s.renew_before_percentage = Some(10);
        assert_eq!(renewal_time(&s, at(0), at(100)), at(90));
    }
}
