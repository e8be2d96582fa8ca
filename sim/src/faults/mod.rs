//! Fault injection rules: what a test asks the sim to do wrong, in JSON or the CLI spec form.
//! [`engine`] rolls the dice per request.

mod engine;

use serde::{Deserialize, Serialize};

use crate::endpoints::Endpoint;

pub use engine::{FaultAction, FaultEngine, FaultTicket, IssuanceFaults};

/// One fault rule. Every field but `endpoint` is optional in JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// An endpoint name (`submit`, `issuances`, ...) or `*` for all of them.
    pub endpoint: String,
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub error_rate: f64,
    #[serde(default = "default_error_statuses")]
    pub error_statuses: Vec<u16>,
    #[serde(default)]
    pub throttle_rate: f64,
    #[serde(default = "default_retry_after_seconds")]
    pub retry_after_seconds: u64,
    #[serde(default)]
    pub retry_after_http_date: bool,
    #[serde(default)]
    pub truncate_rate: f64,
    #[serde(default)]
    pub malformed_rate: f64,
    #[serde(default)]
    pub drop_rate: f64,
    /// The real handler runs to completion, then the client gets one of `error_statuses`.
    #[serde(default)]
    pub after_error_rate: f64,
    /// The real handler runs to completion, then the connection is dropped without an answer.
    #[serde(default)]
    pub after_drop_rate: f64,
    /// A certificate signed at this request is issued for a fresh key, not the CSR's.
    #[serde(default)]
    pub wrong_key_rate: f64,
    /// A certificate signed at this request is always served with an intermediate that has the
    /// right name but did not sign it.
    #[serde(default)]
    pub broken_chain_rate: f64,
    /// A certificate signed at this request carries DNS names other than the requested ones.
    #[serde(default)]
    pub wrong_names_rate: f64,
    /// How many requests this rule may affect before it goes quiet (`None`: unlimited).
    #[serde(default)]
    pub count: Option<u64>,
}

fn default_error_statuses() -> Vec<u16> {
    vec![500, 502, 503]
}

fn default_retry_after_seconds() -> u64 {
    1
}

impl Default for FaultRule {
    fn default() -> Self {
        FaultRule {
            endpoint: "*".to_string(),
            latency_ms: 0,
            error_rate: 0.0,
            error_statuses: default_error_statuses(),
            throttle_rate: 0.0,
            retry_after_seconds: default_retry_after_seconds(),
            retry_after_http_date: false,
            truncate_rate: 0.0,
            malformed_rate: 0.0,
            drop_rate: 0.0,
            after_error_rate: 0.0,
            after_drop_rate: 0.0,
            wrong_key_rate: 0.0,
            broken_chain_rate: 0.0,
            wrong_names_rate: 0.0,
            count: None,
        }
    }
}

impl FaultRule {
    pub fn validate(&self) -> Result<(), String> {
        if self.endpoint != "*" && !Endpoint::FAULTABLE.iter().any(|e| e.name() == self.endpoint) {
            return Err(format!("unknown endpoint {:?} in fault rule", self.endpoint));
        }
        for (name, rate) in self.rates() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if let Some(bad) = self.error_statuses.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(format!("error status {bad} is not an HTTP status"));
        }
        Ok(())
    }

    fn rates(&self) -> [(&'static str, f64); 10] {
        [
            ("error_rate", self.error_rate),
            ("throttle_rate", self.throttle_rate),
            ("truncate_rate", self.truncate_rate),
            ("malformed_rate", self.malformed_rate),
            ("drop_rate", self.drop_rate),
            ("after_error_rate", self.after_error_rate),
            ("after_drop_rate", self.after_drop_rate),
            ("wrong_key_rate", self.wrong_key_rate),
            ("broken_chain_rate", self.broken_chain_rate),
            ("wrong_names_rate", self.wrong_names_rate),
        ]
    }

    /// Parses the CLI form `ENDPOINT:key=value,key=value` (`error_statuses=500/503`).
    pub fn parse_spec(spec: &str) -> Result<FaultRule, String> {
        let (endpoint, settings) = spec.split_once(':').unwrap_or((spec, ""));
        let mut rule = FaultRule {
            endpoint: endpoint.trim().to_string(),
            ..FaultRule::default()
        };
        for setting in settings.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = setting
                .split_once('=')
                .ok_or_else(|| format!("fault setting {setting:?} needs key=value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("fault setting {key}={value}: {e}");
            let rate = |value: &str| value.parse::<f64>().map_err(|e| bad(&e));
            match key.trim() {
                "latency_ms" => rule.latency_ms = value.parse().map_err(|e| bad(&e))?,
                "error_rate" => rule.error_rate = rate(value)?,
                "throttle_rate" => rule.throttle_rate = rate(value)?,
                "truncate_rate" => rule.truncate_rate = rate(value)?,
                "malformed_rate" => rule.malformed_rate = rate(value)?,
                "drop_rate" => rule.drop_rate = rate(value)?,
                "after_error_rate" => rule.after_error_rate = rate(value)?,
                "after_drop_rate" => rule.after_drop_rate = rate(value)?,
                "wrong_key_rate" => rule.wrong_key_rate = rate(value)?,
                "broken_chain_rate" => rule.broken_chain_rate = rate(value)?,
                "wrong_names_rate" => rule.wrong_names_rate = rate(value)?,
                "retry_after_seconds" => rule.retry_after_seconds = value.parse().map_err(|e| bad(&e))?,
                "retry_after_http_date" => rule.retry_after_http_date = value.parse().map_err(|e| bad(&e))?,
                "count" => rule.count = Some(value.parse().map_err(|e| bad(&e))?),
                "error_statuses" => {
                    rule.error_statuses = value
                        .split('/')
                        .map(|s| s.trim().parse::<u16>())
                        .collect::<Result<_, _>>()
                        .map_err(|e| bad(&e))?
                }
                other => return Err(format!("unknown fault setting {other:?}")),
            }
        }
        rule.validate()?;
        Ok(rule)
    }

    fn applies_to(&self, endpoint: Endpoint) -> bool {
        self.endpoint == "*" || self.endpoint == endpoint.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cli_spec() {
        let rule =
            FaultRule::parse_spec("submit:error_rate=0.3,latency_ms=100,error_statuses=502/503,count=4")
                .expect("valid spec");
        assert_eq!(rule.endpoint, "submit");
        assert_eq!(rule.error_rate, 0.3);
        assert_eq!(rule.latency_ms, 100);
        assert_eq!(rule.error_statuses, vec![502, 503]);
        assert_eq!(rule.count, Some(4));
        assert!(FaultRule::parse_spec("nowhere:error_rate=1").is_err());
        assert!(FaultRule::parse_spec("submit:error_rate=2").is_err());
        assert!(FaultRule::parse_spec("submit:bogus=1").is_err());
        assert!(FaultRule::parse_spec("*:drop_rate=1").is_ok());
        assert!(FaultRule::parse_spec("profile:error_rate=1").is_ok());
    }

    #[test]
    fn parses_the_after_and_issuance_rates() {
        let rule = FaultRule::parse_spec(
            "submit:after_error_rate=0.1,after_drop_rate=0.2,wrong_key_rate=0.3,broken_chain_rate=0.4,wrong_names_rate=0.5",
        )
        .expect("valid spec");
        assert_eq!(
            (
                rule.after_error_rate,
                rule.after_drop_rate,
                rule.wrong_key_rate,
                rule.broken_chain_rate,
                rule.wrong_names_rate
            ),
            (0.1, 0.2, 0.3, 0.4, 0.5)
        );
        for key in [
            "after_error_rate",
            "after_drop_rate",
            "wrong_key_rate",
            "broken_chain_rate",
            "wrong_names_rate",
        ] {
            assert!(
                FaultRule::parse_spec(&format!("submit:{key}=1.5")).is_err(),
                "{key}"
            );
            let json = format!(r#"{{"endpoint": "renew", "{key}": -0.5}}"#);
            let rule: FaultRule = serde_json::from_str(&json).expect("parses");
            assert!(rule.validate().is_err(), "{key} must be validated");
        }
    }

    #[test]
    fn json_requires_endpoint_and_rejects_unknown_fields() {
        assert!(serde_json::from_str::<FaultRule>(r#"{"latency_ms": 5}"#).is_err());
        assert!(serde_json::from_str::<FaultRule>(r#"{"endpoint": "submit", "latency": 5}"#).is_err());
        let rule: FaultRule = serde_json::from_str(r#"{"endpoint": "submit"}"#).expect("minimal rule");
        assert_eq!(rule.error_statuses, vec![500, 502, 503]);
        assert_eq!(rule.retry_after_seconds, 1);
        assert_eq!(rule.wrong_key_rate, 0.0);
    }
}
