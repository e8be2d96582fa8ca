//! Which watch an issuance belongs to: Cert Spotter's `include_subdomains` and
//! `match_wildcards` semantics, applied on our side because one query serves several watches.

/// Whether a certificate DNS name falls under a watched domain.
pub fn name_matches(name: &str, domain: &str, include_subdomains: bool, match_wildcards: bool) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    if name == domain {
        return true;
    }
    if include_subdomains && name.ends_with(&format!(".{domain}")) {
        return true;
    }
    if match_wildcards && let Some(base) = name.strip_prefix("*.") {
        // `*.example.com` covers `www.example.com`: exactly one label more than the base.
        if let Some((first, rest)) = domain.split_once('.') {
            return !first.is_empty() && rest == base;
        }
    }
    false
}

/// Whether any of the names falls under any of the domains.
pub fn issuance_matches(
    names: &[String],
    domains: &[String],
    include_subdomains: bool,
    match_wildcards: bool,
) -> bool {
    names.iter().any(|n| {
        domains
            .iter()
            .any(|d| name_matches(n, d, include_subdomains, match_wildcards))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_subdomain_and_wildcard_semantics() {
        assert!(name_matches("example.com", "example.com", false, false));
        assert!(name_matches("EXAMPLE.com.", "example.com", false, false));
        assert!(!name_matches("www.example.com", "example.com", false, false));
        assert!(name_matches("www.example.com", "example.com", true, false));
        assert!(name_matches("a.b.example.com", "example.com", true, false));
        assert!(!name_matches("badexample.com", "example.com", true, false));
        assert!(name_matches("*.example.com", "www.example.com", false, true));
        assert!(!name_matches("*.example.com", "www.example.com", false, false));
        assert!(!name_matches("*.example.com", "a.b.example.com", false, true));
        assert!(!name_matches("*.example.com", "example.com", false, true));
        assert!(
            name_matches("*.example.com", "example.com", true, false),
            "a wildcard under the domain is a subdomain name"
        );
        assert!(name_matches(
            "xn--bcher-kva.example",
            "xn--bcher-kva.example",
            false,
            false
        ));
    }
}
