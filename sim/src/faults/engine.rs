//! The dice: per request, which fault (if any) a set of rules injects.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::FaultRule;
use crate::endpoints::Endpoint;

/// What to do to one request, decided before it is served.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultPlan {
    pub latency: Duration,
    pub action: FaultAction,
    pub ticket: FaultTicket,
}

/// Handed to the handler through the request's extensions: lets it draw issuance faults at
/// the moment it signs, charging each rule at most once per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultTicket {
    endpoint: Endpoint,
    generation: u64,
    /// Rules that already spent a unit of `count` on this request.
    charged: Vec<usize>,
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
    /// Serve for real, then answer with this error status instead.
    AfterError {
        status: u16,
    },
    /// Serve for real, then close the connection without an answer.
    AfterDrop,
}

/// Defects of a certificate signed while serving one request, drawn when it is signed; the
/// choice is stored with the certificate, so every later answer about it stays consistent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IssuanceFaults {
    pub wrong_key: bool,
    pub broken_chain: bool,
    pub wrong_names: bool,
}

impl IssuanceFaults {
    pub fn any(self) -> bool {
        self.wrong_key || self.broken_chain || self.wrong_names
    }
}

struct ActiveRule {
    rule: FaultRule,
    remaining: Option<u64>,
}

/// The installed rules plus the random source; lives behind a mutex, held only to roll dice.
pub struct FaultEngine {
    rules: Vec<ActiveRule>,
    /// Bumped whenever the rules are replaced, so old tickets do not name new rules.
    generation: u64,
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
            generation: 0,
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
        self.generation += 1;
    }

    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|active| active.rule.clone()).collect()
    }

    /// Every matching rule with budget left applies: latencies add up, and the first rule (in
    /// order) whose dice fire picks the action. A rule spends one unit of `count` on each
    /// request it actually changed.
    pub fn decide(&mut self, endpoint: Endpoint) -> FaultPlan {
        let mut plan = FaultPlan {
            latency: Duration::ZERO,
            action: FaultAction::None,
            ticket: FaultTicket {
                endpoint,
                generation: self.generation,
                charged: Vec::new(),
            },
        };
        for (index, active) in self.rules.iter_mut().enumerate() {
            if !active.rule.applies_to(endpoint) || active.remaining == Some(0) {
                continue;
            }
            let mut affected = active.rule.latency_ms > 0;
            plan.latency += Duration::from_millis(active.rule.latency_ms);
            if plan.action == FaultAction::None {
                plan.action = roll(&active.rule, &mut self.rng);
                affected |= plan.action != FaultAction::None;
            }
            if affected {
                charge(active);
                plan.ticket.charged.push(index);
            }
        }
        plan
    }

    /// Issuance faults for a certificate signed now while serving `ticket`'s request: drawn
    /// from every matching rule (rules that already changed this request count even when their
    /// budget just ran out), combined. A rule whose dice fire is charged unless it already was.
    pub fn draw_issuance(&mut self, ticket: &FaultTicket) -> IssuanceFaults {
        let mut faults = IssuanceFaults::default();
        let same_rules = ticket.generation == self.generation;
        for (index, active) in self.rules.iter_mut().enumerate() {
            let charged = same_rules && ticket.charged.contains(&index);
            if !active.rule.applies_to(ticket.endpoint) || (!charged && active.remaining == Some(0)) {
                continue;
            }
            let drawn = roll_issuance(&active.rule, &mut self.rng);
            if drawn.any() && !charged {
                charge(active);
            }
            faults.wrong_key |= drawn.wrong_key;
            faults.broken_chain |= drawn.broken_chain;
            faults.wrong_names |= drawn.wrong_names;
        }
        faults
    }
}

fn charge(active: &mut ActiveRule) {
    if let Some(remaining) = active.remaining.as_mut() {
        *remaining = remaining.saturating_sub(1);
    }
}

fn fires(rng: &mut StdRng, rate: f64) -> bool {
    rate > 0.0 && rng.random::<f64>() < rate
}

/// Draws in the documented order: drop, throttle, error, truncate, malformed, after_error,
/// after_drop. Rates of 0 draw nothing, so adding a rule field never shifts a seeded sequence.
fn roll(rule: &FaultRule, rng: &mut StdRng) -> FaultAction {
    if fires(rng, rule.drop_rate) {
        return FaultAction::Drop;
    }
    if fires(rng, rule.throttle_rate) {
        return FaultAction::Throttle {
            retry_after_seconds: rule.retry_after_seconds,
            http_date: rule.retry_after_http_date,
        };
    }
    if fires(rng, rule.error_rate) {
        return FaultAction::Error {
            status: error_status(rule, rng),
        };
    }
    if fires(rng, rule.truncate_rate) {
        return FaultAction::Truncate;
    }
    if fires(rng, rule.malformed_rate) {
        return FaultAction::Malformed;
    }
    if fires(rng, rule.after_error_rate) {
        return FaultAction::AfterError {
            status: error_status(rule, rng),
        };
    }
    if fires(rng, rule.after_drop_rate) {
        return FaultAction::AfterDrop;
    }
    FaultAction::None
}

/// Then, independently of the action: wrong_key, broken_chain, wrong_names.
fn roll_issuance(rule: &FaultRule, rng: &mut StdRng) -> IssuanceFaults {
    IssuanceFaults {
        wrong_key: fires(rng, rule.wrong_key_rate),
        broken_chain: fires(rng, rule.broken_chain_rate),
        wrong_names: fires(rng, rule.wrong_names_rate),
    }
}

fn error_status(rule: &FaultRule, rng: &mut StdRng) -> u16 {
    match rule.error_statuses.len() {
        0 => 500,
        n => rule.error_statuses[rng.random_range(0..n)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(endpoint: &str) -> FaultRule {
        FaultRule {
            endpoint: endpoint.into(),
            ..FaultRule::default()
        }
    }

    #[test]
    fn count_limits_affected_requests() {
        let mut engine = FaultEngine::new(Some(7));
        engine.set_rules(vec![FaultRule {
            error_rate: 1.0,
            error_statuses: vec![503],
            count: Some(2),
            ..rule("submit")
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
            error_rate: 0.5,
            ..rule("*")
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
                latency_ms: 10,
                ..rule("*")
            },
            FaultRule {
                latency_ms: 5,
                ..rule("status")
            },
        ]);
        assert_eq!(engine.decide(Endpoint::Status).latency, Duration::from_millis(15));
        assert_eq!(engine.decide(Endpoint::Submit).latency, Duration::from_millis(10));
    }

    #[test]
    fn after_actions_come_after_the_existing_ones() {
        let mut engine = FaultEngine::new(Some(1));
        engine.set_rules(vec![FaultRule {
            malformed_rate: 1.0,
            after_error_rate: 1.0,
            ..rule("submit")
        }]);
        assert_eq!(engine.decide(Endpoint::Submit).action, FaultAction::Malformed);
        engine.set_rules(vec![FaultRule {
            after_error_rate: 1.0,
            after_drop_rate: 1.0,
            error_statuses: vec![504],
            ..rule("submit")
        }]);
        assert_eq!(
            engine.decide(Endpoint::Submit).action,
            FaultAction::AfterError { status: 504 }
        );
        engine.set_rules(vec![FaultRule {
            after_drop_rate: 1.0,
            ..rule("status")
        }]);
        assert_eq!(engine.decide(Endpoint::Status).action, FaultAction::AfterDrop);
    }

    #[test]
    fn issuance_faults_are_drawn_at_signing_and_charged_once() {
        let mut engine = FaultEngine::new(Some(1));
        engine.set_rules(vec![
            FaultRule {
                wrong_key_rate: 1.0,
                count: Some(1),
                ..rule("*")
            },
            FaultRule {
                broken_chain_rate: 1.0,
                wrong_names_rate: 1.0,
                after_error_rate: 1.0,
                error_statuses: vec![500],
                latency_ms: 1,
                count: Some(1),
                ..rule("renew")
            },
        ]);
        // A request that signs nothing does not spend the issuance rule.
        let status = engine.decide(Endpoint::Status);
        assert_eq!(status.action, FaultAction::None);
        let renew = engine.decide(Endpoint::Renew);
        assert_eq!(renew.action, FaultAction::AfterError { status: 500 });
        let drawn = engine.draw_issuance(&renew.ticket);
        assert_eq!(
            drawn,
            IssuanceFaults {
                wrong_key: true,
                broken_chain: true,
                wrong_names: true
            },
            "the renew rule's count went on latency and action, yet covers this request"
        );
        let again = engine.decide(Endpoint::Renew);
        assert!(
            !engine.draw_issuance(&again.ticket).any(),
            "both counts are spent"
        );
    }

    #[test]
    fn old_tickets_do_not_name_new_rules() {
        let mut engine = FaultEngine::new(Some(1));
        engine.set_rules(vec![FaultRule {
            latency_ms: 1,
            wrong_key_rate: 1.0,
            count: Some(1),
            ..rule("submit")
        }]);
        let plan = engine.decide(Endpoint::Submit);
        engine.set_rules(vec![FaultRule {
            wrong_key_rate: 1.0,
            count: Some(0),
            ..rule("submit")
        }]);
        assert!(!engine.draw_issuance(&plan.ticket).any());
    }
}
