//! The top of each Issuer's chains, learned from TLM. A submit with `include_ca_chain` delivers
//! the leaf and its intermediates but not the root `ca.crt` needs, so the first issuance through
//! an intermediate asks `additional-formats`; later ones reuse the verified chain above that
//! intermediate and cost one TLM request instead of two. Entries are per Issuer, so one
//! tenant's Issuer cannot supply the roots of another's, and every reused chain is verified again
//! with the new leaf before it is written.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::backend::registry::IssuerKey;
use crate::pki::{CertDer, order_chain, sha256_hex, verify_chain};

/// More intermediates than any account has; past it the map starts over.
const MAX_ENTRIES: usize = 1_024;

#[derive(Default)]
pub struct ChainRoots {
    /// (Issuer, SHA-256 of a CA certificate) → the verified certificates above it, root last.
    above: Mutex<HashMap<(IssuerKey, String), Vec<CertDer>>>,
}

impl ChainRoots {
    /// The delivered certificates completed to a verified chain ending at a root, leaf first, if
    /// they are complete already or an earlier chain of this Issuer supplies what is missing.
    pub fn complete(
        &self,
        issuer: &IssuerKey,
        delivered: &[CertDer],
        leaf_spki: &[u8],
    ) -> Option<Vec<CertDer>> {
        let mut chain = order_chain(delivered, Some(leaf_spki)).ok()?;
        if verify_chain(&chain).is_ok() {
            return Some(chain);
        }
        let top = chain.last()?;
        let key = (issuer.clone(), sha256_hex(top));
        let above = self.above.lock().expect("chain roots lock").get(&key).cloned()?;
        chain.extend(above);
        verify_chain(&chain).ok().map(|()| chain)
    }

    /// Remembers what lies above each CA certificate of a verified, leaf-first chain.
    pub fn learn(&self, issuer: &IssuerKey, chain: &[CertDer]) {
        if chain.len() < 2 || verify_chain(chain).is_err() {
            return;
        }
        let mut above = self.above.lock().expect("chain roots lock");
        if above.len() >= MAX_ENTRIES {
            above.clear();
        }
        for i in 1..chain.len() - 1 {
            above.insert((issuer.clone(), sha256_hex(&chain[i])), chain[i + 1..].to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::IssuerKind;
    use crate::pki::test_ca::chain_for;

    fn issuer(name: &str) -> IssuerKey {
        IssuerKey {
            kind: IssuerKind::Issuer,
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    #[test]
    fn a_learned_root_completes_the_next_delivery_of_the_same_issuer_only() {
        let first = chain_for(&["a.example.com"]);
        let roots = ChainRoots::default();
        let spki = first.leaf_key.spki_der();
        let without_root = &first.chain[..first.chain.len() - 1];
        assert!(
            roots.complete(&issuer("i"), without_root, &spki).is_none(),
            "nothing learned yet"
        );
        roots.learn(&issuer("i"), &first.chain);
        assert_eq!(
            roots.complete(&issuer("i"), without_root, &spki),
            Some(first.chain.clone())
        );
        assert!(roots.complete(&issuer("other"), without_root, &spki).is_none());
    }

    #[test]
    fn a_complete_delivery_needs_nothing_learned() {
        let first = chain_for(&["a.example.com"]);
        let roots = ChainRoots::default();
        let complete = roots.complete(&issuer("i"), &first.chain, &first.leaf_key.spki_der());
        assert_eq!(complete, Some(first.chain.clone()));
    }

    #[test]
    fn a_root_of_another_ca_does_not_complete_a_chain() {
        let ours = chain_for(&["a.example.com"]);
        let theirs = chain_for(&["b.example.com"]);
        let roots = ChainRoots::default();
        roots.learn(&issuer("i"), &theirs.chain);
        let without_root = &ours.chain[..ours.chain.len() - 1];
        assert!(
            roots
                .complete(&issuer("i"), without_root, &ours.leaf_key.spki_der())
                .is_none()
        );
    }
}
