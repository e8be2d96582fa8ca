//! CT classification benchmark: captured-style JSON pages through parse, dedupe and verdict on
//! one core, and queries per cycle for 1,000 distinct domains across 200 watches.
//!
//! `cargo bench --bench ct_classify -- [--issuances N]`

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use tlm_operator::api::{CTWatch, CTWatchStatus};
use tlm_operator::clients::certspotter::{Issuance, IssuanceId};
use tlm_operator::ctwatch::classify::{WatchInput, classify};
use tlm_operator::ctwatch::plan::{batches, group};

const WATCHES: usize = 200;
const DOMAINS_PER_WATCH: usize = 5;

fn watch(i: usize) -> CTWatch {
    let domains: Vec<String> = (0..DOMAINS_PER_WATCH)
        .map(|j| format!("d{:04}.bench.example", i * DOMAINS_PER_WATCH + j))
        .collect();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "CTWatch",
        "metadata": {"name": format!("w{i}"), "namespace": "bench"},
        "spec": {"domains": domains, "includeSubdomains": true,
                 "expectedIssuers": [{"name": "Partner CA"}]}
    }))
    .expect("watch")
}

/// Pages of 100 issuances as Cert Spotter sends them (dns_names and issuer expanded).
fn pages(total: usize) -> Vec<Vec<u8>> {
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::new();
    for page in 0..total.div_ceil(100) {
        let items: Vec<serde_json::Value> = (0..100.min(total - page * 100))
            .map(|k| {
                let id = page * 100 + k + 1;
                let d = (rand() % (WATCHES * DOMAINS_PER_WATCH) as u64) as usize;
                let names = match rand() % 3 {
                    0 => vec![format!("d{d:04}.bench.example")],
                    1 => vec![
                        format!("www.d{d:04}.bench.example"),
                        format!("d{d:04}.bench.example"),
                    ],
                    _ => vec![format!("*.d{d:04}.bench.example")],
                };
                let issuer = if rand() % 10 == 0 {
                    "C=US, O=Partner, CN=Partner CA"
                } else {
                    "C=XX, O=Other, CN=Other CA"
                };
                serde_json::json!({
                    "id": id.to_string(),
                    "tbs_sha256": format!("{:064x}", rand()),
                    "dns_names": names,
                    "pubkey_sha256": format!("{:064x}", rand() % 5000),
                    "issuer": {"name": issuer, "pubkey_sha256": format!("{:064x}", rand() % 7)},
                    "not_before": "2026-11-01T00:00:00Z",
                    "not_after": "2027-02-01T00:00:00Z",
                })
            })
            .collect();
        out.push(serde_json::to_vec(&items).expect("json"));
    }
    out
}

fn main() {
    let total: usize = std::env::args()
        .skip_while(|a| a != "--issuances")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let watches: Vec<CTWatch> = (0..WATCHES).map(watch).collect();
    let groups = group(&watches);
    let queries: usize = groups.values().map(|members| batches(members).len()).sum();
    let distinct: HashSet<&String> = watches.iter().flat_map(|w| w.spec.domains.iter()).collect();
    println!("\n## CT classification benchmark\n");
    println!(
        "queries per cycle for {} distinct domains across {} watches: {} (ceil(D/10) = {})",
        distinct.len(),
        WATCHES,
        queries,
        distinct.len().div_ceil(10)
    );

    let data = pages(total);
    let managed: HashSet<String> = (0..500u64).map(|k| format!("{k:064x}")).collect();
    let statuses: Vec<CTWatchStatus> = watches.iter().map(|_| CTWatchStatus::default()).collect();
    let mut runs: Vec<Duration> = Vec::new();
    let mut judged_count = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let mut collected: BTreeMap<IssuanceId, Issuance> = BTreeMap::new();
        for page in &data {
            let parsed: Vec<Issuance> = serde_json::from_slice(page).expect("page parses");
            for issuance in parsed {
                collected.insert(IssuanceId(issuance.id.clone()), issuance);
            }
        }
        let inputs: Vec<WatchInput<'_>> = watches
            .iter()
            .zip(&statuses)
            .map(|(w, s)| WatchInput {
                spec: &w.spec,
                status: s,
                created: None,
            })
            .collect();
        let refs: Vec<&Issuance> = collected.values().collect();
        let judged = classify(&refs, None, &inputs, true, true, &managed);
        judged_count = judged.iter().map(Vec::len).sum::<usize>();
        runs.push(start.elapsed());
    }
    runs.sort();
    let median = runs[1];
    println!(
        "issuances: {total} in {} pages; judged entries: {judged_count}",
        data.len()
    );
    println!(
        "parse + dedupe + verdict, one core: median {:.3} s = {:.0} issuances/s (best {:.0}/s)",
        median.as_secs_f64(),
        total as f64 / median.as_secs_f64(),
        total as f64 / runs[0].as_secs_f64()
    );
}
