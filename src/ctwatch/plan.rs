//! How watches are polled together: watches whose queries would carry the same flags, source
//! and credentials form a group; a group's distinct domains are queried in batches of ten,
//! starting after the smallest cursor among its members.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use super::super::clients::certspotter::{MAX_DOMAINS_PER_QUERY, id_order};
use crate::api::CTWatch;

/// What makes two watches' queries interchangeable.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub url: String,
    /// (namespace, name, key) of the token Secret.
    pub token: Option<(String, String, String)>,
    pub ca_bundle: Option<String>,
    pub include_subdomains: bool,
    pub match_wildcards: bool,
    /// Evidence needs the certificate itself.
    pub expand_cert: bool,
}

impl GroupKey {
    pub fn of(watch: &CTWatch) -> Self {
        let spec = &watch.spec;
        let source = &spec.source.cert_spotter;
        let namespace = watch.metadata.namespace.clone().unwrap_or_default();
        Self {
            url: source.url.trim_end_matches('/').to_string(),
            token: source
                .token_secret_ref
                .as_ref()
                .map(|r| (namespace, r.name.clone(), r.key.clone())),
            ca_bundle: source.ca_bundle.clone(),
            include_subdomains: spec.include_subdomains,
            match_wildcards: spec.match_wildcards,
            expand_cert: spec.digicert_evidence.is_some(),
        }
    }
}

/// Groups watches; within each group, watches are sorted by namespace/name.
pub fn group<'a>(watches: impl IntoIterator<Item = &'a CTWatch>) -> BTreeMap<GroupKey, Vec<&'a CTWatch>> {
    let mut groups: BTreeMap<GroupKey, Vec<&CTWatch>> = BTreeMap::new();
    for watch in watches {
        groups.entry(GroupKey::of(watch)).or_default().push(watch);
    }
    for members in groups.values_mut() {
        members.sort_by_key(|w| (w.metadata.namespace.clone(), w.metadata.name.clone()));
    }
    groups
}

/// The group's distinct domains in batches of at most ten.
pub fn batches(members: &[&CTWatch]) -> Vec<Vec<String>> {
    let domains: BTreeSet<String> = members
        .iter()
        .flat_map(|w| w.spec.domains.iter().map(|d| d.to_ascii_lowercase()))
        .collect();
    let domains: Vec<String> = domains.into_iter().collect();
    domains
        .chunks(MAX_DOMAINS_PER_QUERY)
        .map(<[String]>::to_vec)
        .collect()
}

/// Where the group's queries start: after the smallest member cursor (None, the beginning,
/// when any member has not polled yet). Members already past an issuance skip it.
pub fn start_after(members: &[&CTWatch]) -> Option<String> {
    let mut cursors = Vec::new();
    for watch in members {
        match watch.status.as_ref().and_then(|s| s.cursor.clone()) {
            Some(c) => cursors.push(c),
            None => return None,
        }
    }
    cursors.into_iter().min_by(|a, b| id_order(a, b))
}

/// A watch is due when it never polled, its spec changed, or its next poll time passed.
pub fn is_due(watch: &CTWatch, now: Timestamp) -> bool {
    let Some(status) = &watch.status else { return true };
    if status.observed_generation != watch.metadata.generation {
        return true;
    }
    status.next_poll_time.as_ref().is_none_or(|t| t.0 <= now)
}

/// The wait until the next poll: the watch's interval (capped for demos and tests), never
/// shorter than the source's `Retry-After`.
pub fn next_poll_in(watch: &CTWatch, cap: Option<Duration>, retry_after: Option<Duration>) -> Duration {
    let interval: Duration = watch.spec.interval.into();
    let interval = cap.map_or(interval, |c| interval.min(c));
    interval.max(retry_after.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(ns: &str, name: &str, domains: &[&str], cursor: Option<&str>, subdomains: bool) -> CTWatch {
        let mut w: CTWatch = serde_json::from_value(serde_json::json!({
            "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "CTWatch",
            "metadata": {"name": name, "namespace": ns, "generation": 1},
            "spec": {"domains": domains, "includeSubdomains": subdomains}
        }))
        .unwrap();
        if let Some(c) = cursor {
            w.status = Some(crate::api::CTWatchStatus {
                cursor: Some(c.into()),
                ..Default::default()
            });
        }
        w
    }

    #[test]
    fn watches_with_the_same_flags_share_batches_of_ten_distinct_domains() {
        let watches: Vec<CTWatch> = (0..12)
            .map(|i| {
                let domains: Vec<String> = (0..5).map(|j| format!("d{}.example", (i * 3 + j) % 25)).collect();
                let refs: Vec<&str> = domains.iter().map(String::as_str).collect();
                watch("ns", &format!("w{i}"), &refs, Some("5"), i % 2 == 0)
            })
            .collect();
        let groups = group(&watches);
        assert_eq!(groups.len(), 2, "two flag combinations");
        for members in groups.values() {
            let distinct: BTreeSet<&String> = members.iter().flat_map(|w| w.spec.domains.iter()).collect();
            let batches = batches(members);
            assert_eq!(batches.len(), distinct.len().div_ceil(10));
            assert!(batches.iter().all(|b| b.len() <= 10));
            assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), distinct.len());
        }
    }

    #[test]
    fn start_is_the_smallest_cursor_or_the_beginning() {
        let a = watch("ns", "a", &["a.com"], Some("100"), false);
        let b = watch("ns", "b", &["b.com"], Some("99"), false);
        let c = watch("ns", "c", &["c.com"], None, false);
        assert_eq!(start_after(&[&a, &b]).as_deref(), Some("99"));
        assert_eq!(start_after(&[&a, &b, &c]), None);
    }

    #[test]
    fn retry_after_and_cap_shape_the_next_poll() {
        let w = watch("ns", "a", &["a.com"], None, false);
        assert_eq!(next_poll_in(&w, None, None), Duration::from_secs(3600));
        assert_eq!(
            next_poll_in(&w, Some(Duration::from_secs(2)), None),
            Duration::from_secs(2)
        );
        assert_eq!(
            next_poll_in(&w, Some(Duration::from_secs(2)), Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }
}
