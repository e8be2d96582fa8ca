//! Crash points for the crash-safety tests: with `TLM_OPERATOR_CRASH_AT=<name>` the process
//! aborts (like `kill -9`, no cleanup) when it reaches that point. Unset in production.

use std::sync::OnceLock;

const ENV: &str = "TLM_OPERATOR_CRASH_AT";

pub fn point(name: &str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    if TARGET.get_or_init(|| std::env::var(ENV).ok()).as_deref() == Some(name) {
        eprintln!("{ENV}={name}: aborting here on purpose");
        std::process::abort();
    }
}
