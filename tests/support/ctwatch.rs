//! CTWatch helpers shared by the CT tests.

use std::time::{Duration, Instant};

use kube::api::{Api, PostParams};
use serde_json::json;
use tlm_operator::api::CTWatch;

use super::Env;

pub fn watches(env: &Env) -> Api<CTWatch> {
    Api::namespaced(env.client.clone(), &env.ns)
}

/// Creates CTWatch `name` polling the Cert Spotter API at `url`.
pub async fn create_watch_at(env: &Env, name: &str, url: &str, spec: serde_json::Value) {
    let mut spec = spec;
    spec["source"] = json!({"certSpotter": {"url": url}});
    let obj = json!({"apiVersion": "tlm.certops.dev/v1alpha1", "kind": "CTWatch", "metadata": {"name": name}, "spec": spec});
    watches(env)
        .create(&PostParams::default(), &serde_json::from_value(obj).unwrap())
        .await
        .unwrap();
}

/// Polls the CTWatch until `done` holds.
pub async fn wait_watch(
    env: &Env,
    name: &str,
    timeout: Duration,
    what: &str,
    done: impl Fn(&CTWatch) -> bool,
) -> CTWatch {
    let deadline = Instant::now() + timeout;
    loop {
        let w = watches(env).get(name).await.unwrap();
        if done(&w) {
            return w;
        }
        assert!(
            Instant::now() < deadline,
            "CTWatch {name}: {what} not reached in {timeout:?}; status {:?}",
            w.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
