//! `GET /v1/issuances` query parameters: parsing, domain validation and matching.

use crate::certspotter::feed::Expand;
use crate::names::normalize_dns_name;

pub const MAX_DOMAINS: usize = 10;

/// Multi-label public suffixes refused as a `domain` (every single-label name is a TLD and is
/// refused anyway). A short built-in list, not the full Public Suffix List.
const MULTI_LABEL_PUBLIC_SUFFIXES: &[&str] = &[
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "me.uk",
    "ltd.uk",
    "plc.uk",
    "com.au",
    "net.au",
    "org.au",
    "edu.au",
    "gov.au",
    "co.nz",
    "org.nz",
    "co.jp",
    "ne.jp",
    "or.jp",
    "ac.jp",
    "com.br",
    "net.br",
    "org.br",
    "com.cn",
    "net.cn",
    "org.cn",
    "co.in",
    "net.in",
    "org.in",
    "co.za",
    "org.za",
    "com.mx",
    "com.ar",
    "com.tr",
    "co.kr",
    "or.kr",
    "com.sg",
    "com.hk",
    "com.tw",
    "co.il",
    "github.io",
    "herokuapp.com",
    "appspot.com",
    "cloudfront.net",
    "blogspot.com",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuanceQuery {
    /// Normalised: lower case, Punycode, no trailing dot.
    pub domains: Vec<String>,
    pub include_subdomains: bool,
    pub match_wildcards: bool,
    pub after: u64,
    pub expand: Expand,
}

/// A 400 answer: `code` and `message` as Cert Spotter spells them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub code: &'static str,
    pub message: String,
}

fn bad_request(message: impl Into<String>) -> QueryError {
    QueryError {
        code: "bad_request",
        message: message.into(),
    }
}

fn bad_domain(message: impl Into<String>) -> QueryError {
    QueryError {
        code: "bad_domain",
        message: message.into(),
    }
}

impl IssuanceQuery {
    pub fn parse(raw_query: &str) -> Result<IssuanceQuery, QueryError> {
        let mut raw_domains = Vec::new();
        let mut query = IssuanceQuery {
            domains: Vec::new(),
            include_subdomains: false,
            match_wildcards: false,
            after: 0,
            expand: Expand::default(),
        };
        for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
            match key.as_ref() {
                "domain" => raw_domains.push(value.into_owned()),
                "include_subdomains" => query.include_subdomains = parse_bool(&key, &value)?,
                "match_wildcards" => query.match_wildcards = parse_bool(&key, &value)?,
                // Expired issuances are always served here; the flag is accepted for compatibility.
                "expired" => {
                    parse_bool(&key, &value)?;
                }
                "after" => {
                    query.after = value
                        .trim()
                        .parse()
                        .map_err(|_| bad_request(format!("invalid after {value:?}")))?
                }
                "expand" => match value.as_ref() {
                    "dns_names" => query.expand.dns_names = true,
                    "issuer" => query.expand.issuer = true,
                    "cert" => query.expand.cert = true,
                    // Unknown expansions (e.g. `issuer.caa_domains`) are ignored, as new fields may be.
                    _ => {}
                },
                _ => {}
            }
        }
        if raw_domains.is_empty() {
            return Err(bad_request("the domain parameter is required"));
        }
        if raw_domains.len() > MAX_DOMAINS {
            return Err(bad_request(format!(
                "at most {MAX_DOMAINS} domain parameters are allowed, got {}",
                raw_domains.len()
            )));
        }
        for raw in &raw_domains {
            query.domains.push(validate_domain(raw)?);
        }
        Ok(query)
    }

    pub fn matches_any(&self, dns_names: &[String]) -> bool {
        self.domains
            .iter()
            .any(|domain| dns_names.iter().any(|name| self.matches(domain, name)))
    }

    fn matches(&self, domain: &str, name: &str) -> bool {
        if name == domain {
            return true;
        }
        if self.include_subdomains && name.len() > domain.len() + 1 {
            let (head, tail) = name.split_at(name.len() - domain.len());
            if tail == domain && head.ends_with('.') {
                return true;
            }
        }
        if self.match_wildcards
            && let Some(wildcard_base) = name.strip_prefix("*.")
            && let Some((_, parent)) = domain.split_once('.')
        {
            return wildcard_base == parent;
        }
        false
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, QueryError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(bad_request(format!("{key} must be true or false"))),
    }
}

/// A queried domain must be a registered domain or below one: a valid DNS name, no wildcard,
/// and not itself a public suffix.
fn validate_domain(raw: &str) -> Result<String, QueryError> {
    if raw.trim_start().starts_with('*') {
        return Err(bad_domain(format!(
            "{raw:?} is not a DNS name (wildcards are matched with match_wildcards)"
        )));
    }
    let domain =
        normalize_dns_name(raw).ok_or_else(|| bad_domain(format!("{raw:?} is not a valid DNS name")))?;
    if !domain.contains('.') || MULTI_LABEL_PUBLIC_SUFFIXES.contains(&domain.as_str()) {
        return Err(bad_domain(format!(
            "{domain:?} is a public suffix, not a registered domain"
        )));
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(raw: &str) -> IssuanceQuery {
        IssuanceQuery::parse(raw).expect("valid query")
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_repeated_parameters() {
        let q =
            query("domain=A.com&domain=b.com&expand=dns_names&expand=cert&after=42&include_subdomains=true");
        assert_eq!(q.domains, vec!["a.com", "b.com"]);
        assert!(q.expand.dns_names && q.expand.cert && !q.expand.issuer);
        assert_eq!(q.after, 42);
        assert!(q.include_subdomains && !q.match_wildcards);
    }

    #[test]
    fn refuses_bad_domain_sets() {
        assert_eq!(
            IssuanceQuery::parse("domain=com").map_err(|e| e.code),
            Err("bad_domain")
        );
        assert_eq!(
            IssuanceQuery::parse("domain=co.uk").map_err(|e| e.code),
            Err("bad_domain")
        );
        assert_eq!(
            IssuanceQuery::parse("domain=*.a.com").map_err(|e| e.code),
            Err("bad_domain")
        );
        assert_eq!(
            IssuanceQuery::parse("domain=a%20b.com").map_err(|e| e.code),
            Err("bad_domain")
        );
        assert_eq!(IssuanceQuery::parse("").map_err(|e| e.code), Err("bad_request"));
        assert_eq!(
            IssuanceQuery::parse("domain=a.com&after=x").map_err(|e| e.code),
            Err("bad_request")
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("domain=d{i}.com")).collect();
        assert_eq!(
            IssuanceQuery::parse(&eleven.join("&")).map_err(|e| e.code),
            Err("bad_request")
        );
        let ten: Vec<String> = (0..10).map(|i| format!("domain=d{i}.com")).collect();
        assert!(IssuanceQuery::parse(&ten.join("&")).is_ok());
    }

    #[test]
    fn unicode_domains_become_punycode() {
        assert_eq!(
            query("domain=b%C3%BCcher.example").domains,
            vec!["xn--bcher-kva.example"]
        );
    }

    #[test]
    fn exact_subdomain_and_wildcard_semantics() {
        let exact = query("domain=example.com");
        assert!(exact.matches_any(&names(&["example.com"])));
        assert!(!exact.matches_any(&names(&["www.example.com"])));
        assert!(!exact.matches_any(&names(&["*.example.com"])));
        assert!(!exact.matches_any(&names(&["notexample.com"])));

        let subs = query("domain=example.com&include_subdomains=true");
        assert!(subs.matches_any(&names(&["a.b.example.com"])));
        assert!(subs.matches_any(&names(&["*.example.com"])));
        assert!(!subs.matches_any(&names(&["badexample.com"])));

        let wild = query("domain=www.example.com&match_wildcards=true");
        assert!(wild.matches_any(&names(&["*.example.com"])));
        assert!(wild.matches_any(&names(&["www.example.com"])));
        assert!(!wild.matches_any(&names(&["*.www.example.com"])));
        assert!(!wild.matches_any(&names(&["*.other.com"])));
        let no_wild = query("domain=www.example.com");
        assert!(!no_wild.matches_any(&names(&["*.example.com"])));
    }
}
