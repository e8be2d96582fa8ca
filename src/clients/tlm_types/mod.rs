//! TLM wire types. Requests are shaped as the published spec and DigiCert's clients send them
//! (`docs/tlm-wire.md`);
//! responses are parsed leniently: unknown fields are ignored and every field we do not strictly
//! need is optional, so a service that adds or omits a field does not break us.
//!
//! One file per kind: `profile`, `requests`, `answers`, `search`.

mod answers;
mod profile;
mod requests;
mod search;

pub use answers::*;
pub use profile::*;
pub use requests::*;
pub use search::*;

use serde::{Deserialize, Deserializer};

fn lenient_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(lenient_i64(deserializer)?.and_then(|v| u64::try_from(v).ok()))
}
