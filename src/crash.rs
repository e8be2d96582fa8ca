//! Crash points for the crash-safety tests: with `TLM_OPERATOR_CRASH_AT=<name>` the process
//! aborts (like `kill -9`, no cleanup) when it reaches that point; with
//! `TLM_OPERATOR_PANIC_AT=<name>` the first pass to reach it panics (once), to prove a panic
//! ends neither the process nor other reconciles. Unset in production.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

const CRASH_ENV: &str = "TLM_OPERATOR_CRASH_AT";
const PANIC_ENV: &str = "TLM_OPERATOR_PANIC_AT";

pub fn point(name: &str) {
    static CRASH: OnceLock<Option<String>> = OnceLock::new();
    static PANIC: OnceLock<Option<String>> = OnceLock::new();
    static PANICKED: AtomicBool = AtomicBool::new(false);
    if CRASH.get_or_init(|| std::env::var(CRASH_ENV).ok()).as_deref() == Some(name) {
        eprintln!("{CRASH_ENV}={name}: aborting here on purpose");
        std::process::abort();
    }
    if PANIC.get_or_init(|| std::env::var(PANIC_ENV).ok()).as_deref() == Some(name)
        && !PANICKED.swap(true, Ordering::SeqCst)
    {
        panic!("{PANIC_ENV}={name}: panicking here on purpose");
    }
}
