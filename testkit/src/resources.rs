//! Helpers to put objects into the test control plane.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::pinned_kind;
use kube::runtime::wait::{await_condition, conditions};
use serde::Deserialize;

use crate::paths::repo_root;

/// Creates a namespace with a unique name starting with `prefix`.
pub async fn unique_namespace(client: &kube::Client, prefix: &str) -> Result<String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}-{}-{n}", std::process::id());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name }
    }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("create namespace {name}"))?;
    Ok(name)
}

/// Server-side applies every CRD in the repository's `crds/` and waits until each is
/// Established.
pub async fn install_crds(client: &kube::Client) -> Result<Vec<String>> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(repo_root().join("crds"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path)?;
        let crd: CustomResourceDefinition =
            serde_yaml::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
        let name = crd.metadata.name.clone().context("CRD without a name")?;
        api.patch(&name, &PatchParams::apply("testkit").force(), &Patch::Apply(&crd))
            .await
            .with_context(|| format!("apply CRD {name}"))?;
        names.push(name);
    }
    for name in &names {
        wait_for_crd(client, name).await?;
    }
    Ok(names)
}

/// Waits until a CRD is Established (its resources are served).
pub async fn wait_for_crd(client: &kube::Client, name: &str) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(api, name, conditions::is_crd_established()),
    )
    .await
    .with_context(|| format!("CRD {name} not established within 30s"))??;
    Ok(())
}

/// The kind's resource as discovery serves it. A CRD reads Established a moment before the
/// discovery documents list its kinds, so a miss is asked again for a few seconds.
async fn discovered(
    client: &kube::Client,
    gvk: &kube::core::GroupVersionKind,
) -> Result<(kube::core::ApiResource, kube::discovery::ApiCapabilities)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match pinned_kind(client, gvk).await {
            Ok(found) => return Ok(found),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Creates every object of a multi-document YAML text in `namespace` (for namespaced kinds) and
/// returns them as the API server stored them. Stops at the first refusal, whose error it returns.
pub async fn create_yaml_documents(
    client: &kube::Client,
    yaml: &str,
    namespace: &str,
) -> Result<Vec<DynamicObject>> {
    let mut created = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_json::to_value(serde_yaml::Value::deserialize(doc)?)?;
        if value.is_null() {
            continue;
        }
        let mut obj: DynamicObject = serde_json::from_value(value).context("not a Kubernetes object")?;
        let types = obj.types.clone().context("object without apiVersion/kind")?;
        let gvk = kube::core::GroupVersionKind::try_from(&types)?;
        let (resource, caps) = discovered(client, &gvk).await?;
        let api: Api<DynamicObject> = match caps.scope {
            kube::discovery::Scope::Namespaced => {
                obj.metadata.namespace = Some(namespace.to_string());
                Api::namespaced_with(client.clone(), namespace, &resource)
            }
            kube::discovery::Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        match api.create(&PostParams::default(), &obj).await {
            Ok(stored) => created.push(stored),
            Err(e) => bail!(e),
        }
    }
    Ok(created)
}
