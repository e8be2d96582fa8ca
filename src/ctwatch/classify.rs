//! From one cycle's issuances to each watch's judged list: attribute each issuance to the
//! watches whose domains it covers (through an index, not a scan per watch), skip what a watch
//! already judged, and judge the rest. Pure, so it is benchmarked on its own.

use std::collections::{HashMap, HashSet};

use k8s_openapi::jiff::Timestamp;

use super::verdict::judge;
use crate::api::{CTWatchSpec, CTWatchStatus, JudgedIssuance, StartFrom};
use crate::clients::certspotter::{Issuance, id_order};

/// One member of a group, as classification needs it.
pub struct WatchInput<'a> {
    pub spec: &'a CTWatchSpec,
    pub status: &'a CTWatchStatus,
    pub created: Option<Timestamp>,
}

/// Finds the watches a DNS name falls under, with the group's flags.
struct DomainIndex<'a> {
    exact: HashMap<&'a str, Vec<usize>>,
    /// Watched domains by their parent, for wildcard names (`*.example.com` covers
    /// `www.example.com`, whose parent is `example.com`).
    by_parent: HashMap<&'a str, Vec<usize>>,
    include_subdomains: bool,
    match_wildcards: bool,
}

impl<'a> DomainIndex<'a> {
    fn new(watches: &'a [WatchInput<'a>], include_subdomains: bool, match_wildcards: bool) -> Self {
        let mut exact: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut by_parent: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, w) in watches.iter().enumerate() {
            for domain in &w.spec.domains {
                exact.entry(domain.as_str()).or_default().push(i);
                if let Some((_, parent)) = domain.split_once('.') {
                    by_parent.entry(parent).or_default().push(i);
                }
            }
        }
        Self {
            exact,
            by_parent,
            include_subdomains,
            match_wildcards,
        }
    }

    fn watches_for(&self, names: &[String], out: &mut Vec<usize>) {
        out.clear();
        for name in names {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(ws) = self.exact.get(name.as_str()) {
                out.extend(ws);
            }
            if self.include_subdomains {
                let mut rest = name.as_str();
                while let Some((_, parent)) = rest.split_once('.') {
                    if let Some(ws) = self.exact.get(parent) {
                        out.extend(ws);
                    }
                    rest = parent;
                }
            }
            if self.match_wildcards
                && let Some(base) = name.strip_prefix("*.")
                && let Some(ws) = self.by_parent.get(base)
            {
                out.extend(ws);
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// Judged issuances per watch (same order as `watches`), oldest first. `issuances` must be in
/// ascending id order; ids past `end` are left for the next cycle.
pub fn classify(
    issuances: &[&Issuance],
    end: Option<&str>,
    watches: &[WatchInput<'_>],
    include_subdomains: bool,
    match_wildcards: bool,
    managed_keys: &HashSet<String>,
) -> Vec<Vec<JudgedIssuance>> {
    let index = DomainIndex::new(watches, include_subdomains, match_wildcards);
    let mut judged: Vec<Vec<JudgedIssuance>> = watches.iter().map(|_| Vec::new()).collect();
    let mut seen_tbs: Vec<HashSet<String>> = watches
        .iter()
        .map(|w| {
            w.status
                .recent
                .iter()
                .filter_map(|r| r.tbs_sha256.clone())
                .collect()
        })
        .collect();
    let mut targets = Vec::new();
    for issuance in issuances {
        if end.is_some_and(|e| id_order(&issuance.id, e).is_gt()) {
            break;
        }
        index.watches_for(&issuance.dns_names, &mut targets);
        for &i in &targets {
            let w = &watches[i];
            if w.status
                .cursor
                .as_deref()
                .is_some_and(|c| id_order(&issuance.id, c).is_le())
            {
                continue;
            }
            if let Some(tbs) = &issuance.tbs_sha256
                && !seen_tbs[i].insert(tbs.clone())
            {
                continue;
            }
            if w.status.cursor.is_none()
                && w.spec.start_from == StartFrom::Now
                && issued_before(issuance, w.created)
            {
                continue;
            }
            let verdict = judge(issuance, w.spec, managed_keys);
            judged[i].push(JudgedIssuance {
                id: issuance.id.clone(),
                dns_names: issuance.dns_names.clone(),
                issuer: issuance.issuer.as_ref().and_then(|i| i.name.clone()),
                not_before: issuance.not_before.clone(),
                not_after: issuance.not_after.clone(),
                tbs_sha256: issuance.tbs_sha256.clone(),
                pubkey_sha256: issuance.pubkey_sha256.clone(),
                evidence_sha256: None,
                verdict: verdict.verdict,
                reason: verdict.reason.to_string(),
            });
        }
    }
    judged
}

fn issued_before(issuance: &Issuance, created: Option<Timestamp>) -> bool {
    let (Some(created), Some(not_before)) = (created, issuance.not_before.as_deref()) else {
        return false;
    };
    not_before.parse::<Timestamp>().is_ok_and(|nb| nb < created)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Verdict;

    fn spec(domains: &[&str]) -> CTWatchSpec {
        serde_json::from_value(serde_json::json!({"domains": domains})).unwrap()
    }

    fn issuance(id: &str, names: &[&str], tbs: &str) -> Issuance {
        Issuance {
            id: id.into(),
            dns_names: names.iter().map(|s| s.to_string()).collect(),
            tbs_sha256: Some(tbs.into()),
            pubkey_sha256: Some(format!("key{id}")),
            ..Default::default()
        }
    }

    #[test]
    fn attribution_cursor_end_and_tbs_dedupe() {
        let a = spec(&["a.example"]);
        let b = spec(&["www.b.example", "b.example"]);
        let status_a = CTWatchStatus::default();
        let status_b = CTWatchStatus {
            cursor: Some("2".into()),
            ..Default::default()
        };
        let watches = [
            WatchInput {
                spec: &a,
                status: &status_a,
                created: None,
            },
            WatchInput {
                spec: &b,
                status: &status_b,
                created: None,
            },
        ];
        let list = [
            issuance("1", &["a.example"], "t1"),
            issuance("2", &["b.example"], "t2"),
            issuance("3", &["*.b.example"], "t3"),
            issuance("4", &["x.a.example"], "t4"),
            issuance("5", &["a.example"], "t1"),
            issuance("9", &["a.example"], "t9"),
        ];
        let refs: Vec<&Issuance> = list.iter().collect();
        let managed: HashSet<String> = ["key1".to_string()].into();
        let out = classify(&refs, Some("5"), &watches, false, true, &managed);
        let ids = |v: &Vec<JudgedIssuance>| v.iter().map(|j| j.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&out[0]),
            ["1"],
            "x.a.example needs includeSubdomains; 5 repeats tbs t1; 9 is past the end"
        );
        assert_eq!(out[0][0].verdict, Verdict::Expected);
        assert_eq!(
            ids(&out[1]),
            ["3"],
            "2 is at the cursor; the wildcard covers www.b.example"
        );
        let out = classify(&refs, None, &watches, true, false, &managed);
        assert_eq!(ids(&out[0]), ["1", "4", "9"]);
        assert_eq!(
            ids(&out[1]),
            ["3"],
            "with includeSubdomains the wildcard name is a subdomain name"
        );
    }

    #[test]
    fn index_follows_cert_spotter_semantics() {
        let s = spec(&["example.com", "www.shop.example"]);
        let status = CTWatchStatus::default();
        let watches = [WatchInput {
            spec: &s,
            status: &status,
            created: None,
        }];
        let matches = |names: &[&str], subdomains: bool, wildcards: bool| {
            let index = DomainIndex::new(&watches, subdomains, wildcards);
            let mut out = Vec::new();
            index.watches_for(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>(), &mut out);
            !out.is_empty()
        };
        assert!(matches(&["EXAMPLE.com."], false, false));
        assert!(!matches(&["www.example.com"], false, false));
        assert!(matches(&["a.b.example.com"], true, false));
        assert!(!matches(&["badexample.com"], true, true));
        assert!(matches(&["*.shop.example"], false, true));
        assert!(!matches(&["*.shop.example"], false, false));
        assert!(
            !matches(&["*.example"], false, true),
            "a wildcard covers one label only"
        );
    }
}
