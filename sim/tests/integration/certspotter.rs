//! Cert Spotter `/v1/issuances`: paging, Retry-After, domain rules, matching, Punycode, quota,
//! tokens, and that TLM issuances show up in the feed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::Value;
use tlm_sim::Injection;

use crate::support::*;

fn inject(sim: &tlm_sim::Sim, names: &[&str]) -> String {
    sim.inject_issuance(Injection {
        dns_names: names.iter().map(|n| n.to_string()).collect(),
        with_cert: false,
        ..Injection::default()
    })
    .expect("injected")
}

async fn issuances(sim: &tlm_sim::Sim, query: &[(&str, &str)]) -> Reply {
    send(client().get(format!("{}/v1/issuances", sim.url())).query(query)).await
}

fn names_of(body: &Value) -> Vec<Vec<String>> {
    body.as_array()
        .expect("array")
        .iter()
        .map(|issuance| {
            issuance["dns_names"]
                .as_array()
                .expect("dns_names expanded")
                .iter()
                .map(|n| n.as_str().expect("name").to_string())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn pages_of_100_then_an_empty_page_with_retry_after() {
    let sim = start().await;
    for i in 0..250 {
        inject(&sim, &[&format!("host{i}.paging.example")]);
    }
    inject(&sim, &["unrelated.example.org"]);
    let mut after = String::from("0");
    let mut sizes = Vec::new();
    let mut last_id = 0u64;
    loop {
        let reply = issuances(
            &sim,
            &[
                ("domain", "paging.example"),
                ("include_subdomains", "true"),
                ("after", &after),
                ("expand", "dns_names"),
            ],
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = reply.json();
        let page = body.as_array().expect("array");
        if page.is_empty() {
            assert_eq!(reply.header("retry-after").as_deref(), Some("60"));
            break;
        }
        assert!(
            reply.header("retry-after").is_none(),
            "non-empty pages carry no Retry-After"
        );
        for issuance in page {
            let id: u64 = issuance["id"]
                .as_str()
                .expect("id is a string")
                .parse()
                .expect("decimal");
            assert!(id > last_id, "ids increase in discovery order");
            last_id = id;
        }
        sizes.push(page.len());
        after = last_id.to_string();
        assert!(sizes.len() < 10, "paging must terminate");
    }
    assert_eq!(sizes, vec![100, 100, 50]);
    let counters = sim.counters();
    assert_eq!(
        counters.certspotter_queries_by_domains.get("paging.example"),
        Some(&4)
    );
    assert_eq!(counters.requests.get("issuances"), Some(&4));
}

#[tokio::test]
async fn page_size_and_empty_retry_after_are_configurable() {
    let sim = start_with(|o| {
        o.certspotter_page_size = 2;
        o.certspotter_empty_retry_after = std::time::Duration::from_secs(7);
    })
    .await;
    for i in 0..3 {
        inject(&sim, &[&format!("x{i}.small.example")]);
    }
    let first = issuances(
        &sim,
        &[("domain", "small.example"), ("include_subdomains", "true")],
    )
    .await
    .json();
    assert_eq!(first.as_array().map(Vec::len), Some(2));
    let empty = issuances(&sim, &[("domain", "nothing.example")]).await;
    assert_eq!(empty.json(), serde_json::json!([]));
    assert_eq!(empty.header("retry-after").as_deref(), Some("7"));
}

#[tokio::test]
async fn domain_parameters_are_validated() {
    let sim = start().await;
    let com = issuances(&sim, &[("domain", "com")]).await;
    assert_eq!(com.status, StatusCode::BAD_REQUEST);
    assert_eq!(com.json()["code"], "bad_domain");
    assert!(com.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
    let suffix = issuances(&sim, &[("domain", "co.uk")]).await;
    assert_eq!(suffix.json()["code"], "bad_domain");
    let none = issuances(&sim, &[]).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);

    let eleven: Vec<String> = (0..11).map(|i| format!("d{i}.example.com")).collect();
    let query: Vec<(&str, &str)> = eleven.iter().map(|d| ("domain", d.as_str())).collect();
    let too_many = issuances(&sim, &query).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    let ten = issuances(&sim, &query[..10]).await;
    assert_eq!(ten.status, StatusCode::OK);
    let key: Vec<&str> = {
        let mut sorted: Vec<&str> = eleven[..10].iter().map(String::as_str).collect();
        sorted.sort();
        sorted
    };
    assert_eq!(
        sim.counters().certspotter_queries_by_domains.get(&key.join(",")),
        Some(&1)
    );
}

#[tokio::test]
async fn subdomain_and_wildcard_matching() {
    let sim = start().await;
    inject(&sim, &["example.net"]);
    inject(&sim, &["www.example.net"]);
    inject(&sim, &["deep.api.example.net"]);
    inject(&sim, &["*.example.net"]);
    inject(&sim, &["notexample.net"]);
    let expand = ("expand", "dns_names");

    let exact = issuances(&sim, &[("domain", "example.net"), expand]).await.json();
    assert_eq!(names_of(&exact), vec![vec!["example.net"]]);

    let subs = issuances(
        &sim,
        &[("domain", "example.net"), ("include_subdomains", "true"), expand],
    )
    .await
    .json();
    assert_eq!(
        names_of(&subs),
        vec![
            vec!["example.net"],
            vec!["www.example.net"],
            vec!["deep.api.example.net"],
            vec!["*.example.net"]
        ]
    );

    let www = issuances(&sim, &[("domain", "www.example.net"), expand])
        .await
        .json();
    assert_eq!(names_of(&www), vec![vec!["www.example.net"]]);
    let www_wild = issuances(
        &sim,
        &[("domain", "www.example.net"), ("match_wildcards", "true"), expand],
    )
    .await
    .json();
    assert_eq!(
        names_of(&www_wild),
        vec![vec!["www.example.net"], vec!["*.example.net"]]
    );

    let multi = issuances(
        &sim,
        &[
            ("domain", "WWW.example.net"),
            ("domain", "notexample.net"),
            expand,
        ],
    )
    .await
    .json();
    assert_eq!(
        names_of(&multi),
        vec![vec!["www.example.net"], vec!["notexample.net"]],
        "case-insensitive, any domain"
    );
}

#[tokio::test]
async fn idns_are_compared_in_punycode() {
    let sim = start().await;
    inject(&sim, &["bücher.example"]);
    for domain in ["bücher.example", "xn--bcher-kva.example", "BÜCHER.example"] {
        let body = issuances(&sim, &[("domain", domain), ("expand", "dns_names")])
            .await
            .json();
        assert_eq!(names_of(&body), vec![vec!["xn--bcher-kva.example"]], "{domain}");
    }
}

#[tokio::test]
async fn hourly_quota_gives_429_with_retry_after() {
    let sim = start_with(|o| o.certspotter_quota_per_hour = Some(3)).await;
    for _ in 0..3 {
        assert_eq!(
            issuances(&sim, &[("domain", "quota.example")]).await.status,
            StatusCode::OK
        );
    }
    let over = issuances(&sim, &[("domain", "quota.example")]).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(over.json()["code"], "rate_limited");
    let seconds: u64 = over
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((3500..=3600).contains(&seconds), "{seconds}");
    // The caller stays refused until Retry-After has passed, whatever it asks.
    let again = issuances(&sim, &[("domain", "other.example")]).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        sim.counters()
            .log
            .iter()
            .rev()
            .take(2)
            .all(|entry| entry.throttled)
    );
}

#[tokio::test]
async fn tokens_are_required_when_configured() {
    let sim = start_with(|o| o.certspotter_tokens = vec!["123_sampleapikey".into()]).await;
    let url = format!("{}/v1/issuances?domain=example.com", sim.url());
    let anonymous = send(client().get(&url)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json()["code"], "unauthorized");
    let wrong = send(client().get(&url).bearer_auth("nope")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let bearer = send(client().get(&url).bearer_auth("123_sampleapikey")).await;
    assert_eq!(bearer.status, StatusCode::OK);
    let basic = send(client().get(&url).basic_auth("123_sampleapikey", Some(""))).await;
    assert_eq!(basic.status, StatusCode::OK);

    let open = start().await;
    let open_url = format!("{}/v1/issuances?domain=example.com", open.url());
    assert_eq!(
        send(client().get(&open_url)).await.status,
        StatusCode::OK,
        "no tokens: open"
    );
}

#[tokio::test]
async fn tlm_issuances_appear_in_the_feed() {
    let sim = start().await;
    let tlm = Tlm::new(&sim);
    let key = key_pair(KeyAlg::P256);
    let body = tlm
        .issue(
            "prof-x509",
            &key,
            "feed.example.com",
            &["feed.example.com", "www.feed.example.com"],
        )
        .await;
    let leaf_der = single_cert_der(body["certificate"].as_str().expect("certificate"));
    let leaf = parse_cert(&leaf_der);
    let intermediate_der = single_cert_der(sim.intermediate_pem());
    let intermediate = parse_cert(&intermediate_der);

    let bare = issuances(&sim, &[("domain", "feed.example.com")]).await.json();
    assert_eq!(bare.as_array().map(Vec::len), Some(1));
    for field in ["dns_names", "issuer", "cert"] {
        assert!(bare[0].get(field).is_none(), "{field} only when expanded");
    }
    let full = issuances(
        &sim,
        &[
            ("domain", "feed.example.com"),
            ("expand", "dns_names"),
            ("expand", "issuer"),
            ("expand", "cert"),
        ],
    )
    .await
    .json();
    let issuance = &full[0];
    assert_eq!(
        issuance["dns_names"],
        serde_json::json!(["feed.example.com", "www.feed.example.com"])
    );
    assert_eq!(issuance["pubkey_sha256"], sha256_hex(&spki_der(&key)));
    assert_eq!(issuance["tbs_sha256"], sha256_hex(leaf.tbs_certificate.as_ref()));
    assert_eq!(
        issuance["issuer"]["name"],
        "C=US, O=tlm-sim, CN=tlm-sim Issuing CA"
    );
    assert_eq!(
        issuance["issuer"]["pubkey_sha256"],
        sha256_hex(intermediate.public_key().raw)
    );
    assert_eq!(issuance["cert"]["type"], "cert");
    assert_eq!(issuance["cert"]["sha256"], sha256_hex(&leaf_der));
    let data = STANDARD
        .decode(issuance["cert"]["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(data, leaf_der);
    assert!(issuance["not_before"].as_str().is_some_and(|t| t.ends_with('Z')));
}

#[tokio::test]
async fn injected_rogue_issuance_carries_a_real_certificate() {
    let sim = start().await;
    let id = sim
        .inject_issuance(Injection {
            dns_names: vec!["rogue.example.com".into()],
            issuer_name: Some("C=US, O=Evil Corp, CN=Evil CA".into()),
            precert: true,
            ..Injection::default()
        })
        .expect("injected");
    let body = issuances(
        &sim,
        &[
            ("domain", "rogue.example.com"),
            ("expand", "cert"),
            ("expand", "issuer"),
        ],
    )
    .await;
    let issuance = &body.json()[0];
    assert_eq!(issuance["id"], id.as_str());
    assert_eq!(issuance["issuer"]["name"], "C=US, O=Evil Corp, CN=Evil CA");
    assert_eq!(issuance["cert"]["type"], "precert");
    let der = STANDARD
        .decode(issuance["cert"]["data"].as_str().expect("data"))
        .expect("base64");
    let cert = parse_cert(&der);
    assert_eq!(cert.issuer().to_string(), "C=US, O=Evil Corp, CN=Evil CA");
    assert_eq!(issuance["pubkey_sha256"], sha256_hex(cert.public_key().raw));

    // Over HTTP, with a fixed key hash (no cert attached).
    let http = admin_post(
        &sim,
        "/sim/ct/issuances",
        Some(&serde_json::json!({"dns_names": ["hash.example.com"], "pubkey_sha256": "ab".repeat(32)})),
    )
    .await;
    assert_eq!(http.status, StatusCode::CREATED);
    let http_id = http.json()["id"].as_str().expect("id").to_string();
    assert!(http_id.parse::<u64>().expect("decimal") > id.parse::<u64>().expect("decimal"));
    let hashed = issuances(&sim, &[("domain", "hash.example.com"), ("expand", "cert")])
        .await
        .json();
    assert_eq!(hashed[0]["pubkey_sha256"], "ab".repeat(32));
    assert!(hashed[0].get("cert").is_none());
    let bad = admin_post(
        &sim,
        "/sim/ct/issuances",
        Some(&serde_json::json!({"dns_names": []})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
