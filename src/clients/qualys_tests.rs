//! Unit tests of the Qualys client: token parsing and scheduling, form encoding, chain checks.

use super::*;

fn jwt(claims: &str) -> String {
    format!("eyJhbGciOiJIUzUxMiJ9.{}.c2ln", URL_SAFE_NO_PAD.encode(claims))
}

#[test]
fn reads_exp_without_verifying() {
    assert_eq!(
        jwt_expiry(&jwt(r#"{"exp":1700000000}"#)),
        Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    );
    assert_eq!(jwt_expiry(&jwt(r#"{"sub":"u"}"#)), None);
    assert_eq!(jwt_expiry("opaque"), None);
    assert_eq!(jwt_expiry(&jwt(r#"{"exp":-5}"#)), None);
}

#[test]
fn refreshes_before_expiry() {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
    let in_4h = Some(now + Duration::from_secs(4 * 3600));
    assert_eq!(refresh_after(in_4h, now), Duration::from_secs(4 * 3600 - 300));
    assert_eq!(
        refresh_after(Some(now + Duration::from_secs(10)), now),
        Duration::from_secs(8)
    );
    assert_eq!(refresh_after(None, now), Duration::from_secs(4 * 3600 - 300));
    assert_eq!(
        refresh_after(Some(now - Duration::from_secs(5)), now),
        Duration::from_secs(60)
    );
}

#[test]
fn form_values_are_encoded() {
    assert_eq!(form_encode("a b&c=d+é"), "a+b%26c%3Dd%2B%C3%A9");
    assert_eq!(form_encode("plain-user_1.x"), "plain-user_1.x");
}

#[test]
fn token_answers_must_look_like_jwts() {
    let answer = |body: &str| Answer {
        status: 201,
        retry_after: None,
        body: body.as_bytes().to_vec(),
    };
    assert!(token_of(&answer(&format!("{}\n", jwt("{}")))).is_ok());
    let refused = token_of(&answer("<html>secret-ish</html>")).unwrap_err();
    assert!(!refused.to_string().contains("secret-ish"));
}

#[test]
fn chains_hold_certificates_only_and_not_too_many() {
    let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_eq!(split_chain(cert.repeat(3).as_bytes()).unwrap().len(), 3);
    assert!(split_chain(cert.repeat(MAX_CHAIN_CERTS + 1).as_bytes()).is_err());
    assert!(split_chain(b"").is_err());
    let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let refused = split_chain(format!("{cert}{key}").as_bytes()).unwrap_err();
    assert!(!refused.to_string().contains("AAAA"));
}

#[test]
fn debug_hides_the_password() {
    let config = QualysClientConfig {
        gateway_url: "https://gateway.qg1.apps.qualys.com".into(),
        username: "api-user".into(),
        password: SecretString::from("hunter2".to_string()),
        http: HttpSettings::default(),
        throttle: None,
        retry: RetryPolicy::default(),
        requests_per_hour: None,
    };
    assert!(!format!("{config:?}").contains("hunter2"));
    let client = QualysClient::new(config).unwrap();
    assert!(!format!("{client:?}").contains("hunter2"));
}

#[test]
fn the_hourly_budget_is_spread_over_the_hour() {
    let default = qualys_quota(DEFAULT_REQUESTS_PER_HOUR);
    assert_eq!(default.replenish_interval(), Duration::from_secs(12));
    assert_eq!(default.burst_size().get(), 20);
    let small = qualys_quota(NonZeroU32::new(5).unwrap());
    assert_eq!(small.replenish_interval(), Duration::from_secs(720));
    assert_eq!(small.burst_size().get(), 5, "never a burst above the budget");
    let large = qualys_quota(NonZeroU32::new(360_000).unwrap());
    assert_eq!(large.replenish_interval(), Duration::from_millis(10));
}
