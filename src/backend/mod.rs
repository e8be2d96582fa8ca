//! Issuance backends: the services a Certificate's key is certified by, behind one interface
//! the Certificate lifecycle uses without knowing which service it talks to
//! (docs/architecture.md, "The backend seam").

pub mod chain_roots;
pub mod registry;
