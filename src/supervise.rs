//! A panic in one reconcile or poll cycle must not end the process: every controller shares one
//! runtime task, so an unwinding panic would take all tenants' controllers down with it (and,
//! when caused by what a service or object says, again after every restart). It is caught,
//! logged, counted, and turned into an ordinary failure of that one pass.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use crate::metrics::Metrics;

/// Runs `pass`; a panic becomes `on_panic(message)`.
pub async fn catching<T>(
    controller: &'static str,
    metrics: &Metrics,
    pass: impl Future<Output = T>,
    on_panic: impl FnOnce(String) -> T,
) -> T {
    match AssertUnwindSafe(pass).catch_unwind().await {
        Ok(out) => out,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            tracing::error!(controller, panic = %message, "a reconcile panicked; the controller goes on");
            metrics.panicked(controller);
            on_panic(message)
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_a_value_and_is_counted() {
        let metrics = Metrics::new();
        let out = catching("test", &metrics, async { panic!("boom {}", 1) }, |m| m).await;
        assert_eq!(out, "boom 1");
        let fine = catching("test", &metrics, async { "ok".to_string() }, |m| m).await;
        assert_eq!(fine, "ok");
        assert!(
            metrics
                .encode()
                .contains("tlm_operator_panics_total{controller=\"test\"} 1")
        );
    }
}
