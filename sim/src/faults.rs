//! Fault injection rules and the dice that decide, per request, which fault (if any) to inject.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::endpoints::Endpoint;

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
            count: None,
        }
    }
}

impl FaultRule {
    pub fn validate(&self) -> Result<(), String> {
        if self.endpoint != "*" && !Endpoint::FAULTABLE.iter().any(|e| e.name() == self.endpoint) {
            return Err(format!("unknown endpoint {:?} in fault rule", self.endpoint));
        }
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("throttle_rate", self.throttle_rate),
            ("truncate_rate", self.truncate_rate),
            ("malformed_rate", self.malformed_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if let Some(bad) = self.error_statuses.iter().find(|s| !(100..=599).contains(*s)) {
            return Err(format!("error status {bad} is not an HTTP status"));
        }
        Ok(())
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
            match key.trim() {
                "latency_ms" => rule.latency_ms = value.parse().map_err(|e| bad(&e))?,
                "error_rate" => rule.error_rate = value.parse().map_err(|e| bad(&e))?,
                "throttle_rate" => rule.throttle_rate = value.parse().map_err(|e| bad(&e))?,
                "truncate_rate" => rule.truncate_rate = value.parse().map_err(|e| bad(&e))?,
                "malformed_rate" => rule.malformed_rate = value.parse().map_err(|e| bad(&e))?,
                "drop_rate" => rule.drop_rate = value.parse().map_err(|e| bad(&e))?,
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

/// What to do to one request, decided before it is served.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    pub latency: Duration,
    pub action: FaultAction,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    None,
    Drop,
    Throttle {
        retry_after_seconds: u64,
        http_date: bool,
    },
    Error {
        status: u16,
    },
    Truncate,
    Malformed,
}

struct ActiveRule {
    rule: FaultRule,
    remaining: Option<u64>,
}

/// The installed rules plus the random source; lives behind a mutex, held only to roll dice.
pub struct FaultEngine {
    rules: Vec<ActiveRule>,
    rng: StdRng,
}

impl FaultEngine {
    pub fn new(seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        FaultEngine {
            rules: Vec::new(),
            rng,
        }
    }

    pub fn set_rules(&mut self, rules: Vec<FaultRule>) {
        self.rules = rules
            .into_iter()
            .map(|rule| ActiveRule {
                remaining: rule.count,
                rule,
            })
            .collect();
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|active| active.rule.clone()).collect()
    }

    /// Every matching rule with budget left applies: latencies add up, and the first rule (in
    /// order) whose dice fire picks the action. A rule spends one unit of `count` on each
    /// request it actually changed (added latency or chose the action).
    pub fn decide(&mut self, endpoint: Endpoint) -> FaultPlan {
        let mut plan = FaultPlan {
            latency: Duration::ZERO,
            action: FaultAction::None,
        };
        for active in &mut self.rules {
            if !active.rule.applies_to(endpoint) || active.remaining == Some(0) {
                continue;
            }
            let mut affected = active.rule.latency_ms > 0;
            plan.latency += Duration::from_millis(active.rule.latency_ms);
            if plan.action == FaultAction::None {
                plan.action = roll(&active.rule, &mut self.rng);
                affected |= plan.action != FaultAction::None;
            }
            if affected && let Some(remaining) = active.remaining.as_mut() {
                *remaining -= 1;
            }
        }
        plan
    }
}

/// Draws in the documented order: drop, throttle, error, truncate, malformed.
fn roll(rule: &FaultRule, rng: &mut StdRng) -> FaultAction {
    let mut fires = |rate: f64| rate > 0.0 && rng.random::<f64>() < rate;
    if fires(rule.drop_rate) {
        return FaultAction::Drop;
    }
    if fires(rule.throttle_rate) {
        return FaultAction::Throttle {
            retry_after_seconds: rule.retry_after_seconds,
            http_date: rule.retry_after_http_date,
        };
    }
    if fires(rule.error_rate) {
        let status = match rule.error_statuses.len() {
            0 => 500,
            n => rule.error_statuses[rng.random_range(0..n)],
        };
        return FaultAction::Error { status };
    }
    let mut fires = |rate: f64| rate > 0.0 && rng.random::<f64>() < rate;
    if fires(rule.truncate_rate) {
        return FaultAction::Truncate;
    }
    if fires(rule.malformed_rate) {
        return FaultAction::Malformed;
    }
    FaultAction::None
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
    }

    #[test]
    fn json_requires_endpoint_and_rejects_unknown_fields() {
        assert!(serde_json::from_str::<FaultRule>(r#"{"latency_ms": 5}"#).is_err());
        assert!(serde_json::from_str::<FaultRule>(r#"{"endpoint": "submit", "latency": 5}"#).is_err());
        let rule: FaultRule = serde_json::from_str(r#"{"endpoint": "submit"}"#).expect("minimal rule");
        assert_eq!(rule.error_statuses, vec![500, 502, 503]);
        assert_eq!(rule.retry_after_seconds, 1);
    }

    #[test]
    fn count_limits_affected_requests() {
        let mut engine = FaultEngine::new(Some(7));
        engine.set_rules(vec![FaultRule {
            endpoint: "submit".into(),
            error_rate: 1.0,
            error_statuses: vec![503],
            count: Some(2),
            ..FaultRule::default()
        }]);
        let actions: Vec<FaultAction> = (0..4).map(|_| engine.decide(Endpoint::Submit).action).collect();
        assert_eq!(
            actions,
            vec![
                FaultAction::Error { status: 503 },
                FaultAction::Error { status: 503 },
                FaultAction::None,
                FaultAction::None
            ]
        );
        assert_eq!(engine.decide(Endpoint::Status).action, FaultAction::None);
    }

    #[test]
    fn same_seed_same_decisions() {
        let rules = vec![FaultRule {
            endpoint: "*".into(),
            error_rate: 0.5,
            ..FaultRule::default()
        }];
        let run = |seed| {
            let mut engine = FaultEngine::new(Some(seed));
            engine.set_rules(rules.clone());
            (0..64)
                .map(|_| engine.decide(Endpoint::Status).action)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        let errors = run(42).iter().filter(|a| **a != FaultAction::None).count();
        assert!((10..54).contains(&errors), "error_rate 0.5 gave {errors}/64");
    }

    #[test]
    fn latencies_add_up_across_rules() {
        let mut engine = FaultEngine::new(Some(1));
        engine.set_rules(vec![
            FaultRule {
                endpoint: "*".into(),
                latency_ms: 10,
                ..FaultRule::default()
            },
            FaultRule {
                endpoint: "status".into(),
                latency_ms: 5,
                ..FaultRule::default()
            },
        ]);
        assert_eq!(engine.decide(Endpoint::Status).latency, Duration::from_millis(15));
        assert_eq!(engine.decide(Endpoint::Submit).latency, Duration::from_millis(10));
    }
}
