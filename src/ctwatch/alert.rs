//! One Warning Event per unexpected issuance. kube-runtime's `Recorder` folds events with the
//! same reason and object into one series, so a second rogue certificate for the same names
//! would only bump a counter nobody alerts on. Each issuance gets its own Event instead, named
//! after the watch and the issuance so a retried write cannot create a duplicate.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

use crate::api::{CTWatch, JudgedIssuance};
use crate::pki::sha256_hex;

pub const REASON: &str = "UnexpectedIssuance";
/// Events one watch gets from one commit (a page, or a multi-batch cycle); the rest are
/// summed up in one more Event. A hostile source can return any number of issuances, and an
/// Event per issuance without a bound would flood the apiserver every tenant shares.
pub const MAX_EVENTS_PER_COMMIT: usize = 100;
const CONTROLLER: &str = "tlm-operator";
/// The API refuses notes longer than 1 kB.
const MAX_NOTE_BYTES: usize = 1000;
/// Names are DNS subdomains of at most 253 characters.
const MAX_NAME_BYTES: usize = 253;

/// The Event for one unexpected issuance of `watch`.
pub fn unexpected_issuance_event(watch: &CTWatch, entry: &JudgedIssuance, instance: &str) -> Event {
    let note = format!(
        "Certificate for {} issued by {} (not before {}, Cert Spotter id {}, tbs_sha256 {}) was not requested by this cluster",
        entry.dns_names.join(", "),
        entry.issuer.as_deref().unwrap_or("an unknown issuer"),
        entry.not_before.as_deref().unwrap_or("unknown"),
        entry.id,
        entry.tbs_sha256.as_deref().unwrap_or("unknown"),
    );
    Event {
        metadata: ObjectMeta {
            name: Some(event_name(&watch.name_any(), entry)),
            namespace: watch.namespace(),
            ..Default::default()
        },
        event_time: Some(MicroTime(Timestamp::now())),
        type_: Some("Warning".into()),
        reason: Some(REASON.into()),
        action: Some("Judge".into()),
        note: Some(truncate(note, MAX_NOTE_BYTES)),
        regarding: Some(ObjectReference {
            api_version: Some(CTWatch::api_version(&()).into_owned()),
            kind: Some(CTWatch::kind(&()).into_owned()),
            name: Some(watch.name_any()),
            namespace: watch.namespace(),
            uid: watch.uid(),
            resource_version: watch.resource_version(),
            ..Default::default()
        }),
        reporting_controller: Some(CONTROLLER.into()),
        reporting_instance: Some(instance.into()),
        ..Default::default()
    }
}

/// One Event for the unexpected issuances past [`MAX_EVENTS_PER_COMMIT`]: how many, and the
/// range of their ids (each is also in the metrics and counted in status).
pub fn more_unexpected_event(watch: &CTWatch, rest: &[&JudgedIssuance], instance: &str) -> Event {
    let first = rest.first().map_or("", |e| e.id.as_str());
    let last = rest.last().map_or("", |e| e.id.as_str());
    let summary = JudgedIssuance {
        id: format!("{first}-{last}"),
        tbs_sha256: Some(format!("{} issuances", rest.len())),
        ..Default::default()
    };
    let mut event = unexpected_issuance_event(watch, &summary, instance);
    event.note = Some(truncate(
        format!(
            "{} more certificates not requested by this cluster in this poll (Cert Spotter ids {first} to {last}); status.recent and ctwatch_unexpected_issuances_total have them",
            rest.len()
        ),
        MAX_NOTE_BYTES,
    ));
    event
}

/// Records the Event; an Event that already exists (a retry after a lost answer) is fine.
pub async fn publish(client: &kube::Client, event: &Event) -> Result<(), kube::Error> {
    let api: Api<Event> = Api::namespaced(
        client.clone(),
        event.metadata.namespace.as_deref().unwrap_or_default(),
    );
    match api.create(&PostParams::default(), event).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// `<watch>.ct-<hash>`: unique per issuance of this watch (id and TBS hash), stable across
/// retries, and a valid name whatever the watch name's length.
fn event_name(watch: &str, entry: &JudgedIssuance) -> String {
    let identity = format!("{}/{}", entry.id, entry.tbs_sha256.as_deref().unwrap_or_default());
    let suffix = format!(".ct-{}", &sha256_hex(identity.as_bytes())[..20]);
    let prefix = truncate(watch.to_string(), MAX_NAME_BYTES - suffix.len());
    format!("{}{suffix}", prefix.trim_end_matches(['.', '-']))
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_per_issuance_and_valid() {
        let a = JudgedIssuance {
            id: "1".into(),
            tbs_sha256: Some("aa".into()),
            ..Default::default()
        };
        let b = JudgedIssuance {
            id: "2".into(),
            ..a.clone()
        };
        assert_ne!(event_name("w", &a), event_name("w", &b));
        assert_eq!(event_name("w", &a), event_name("w", &a));
        let long = "x".repeat(253);
        assert!(event_name(&long, &a).len() <= MAX_NAME_BYTES);
        assert_eq!(truncate("é".repeat(10), 5).len(), 4);
        let watch: CTWatch = serde_json::from_value(serde_json::json!({
            "apiVersion": "tlm.certops.dev/v1alpha1", "kind": "CTWatch",
            "metadata": {"name": "w", "namespace": "ns"}, "spec": {"domains": ["a.example"]}
        }))
        .unwrap();
        let more = more_unexpected_event(&watch, &[&a, &b], "i");
        assert!(more.note.as_deref().unwrap_or_default().starts_with("2 more"));
        assert_ne!(
            more.metadata.name,
            unexpected_issuance_event(&watch, &a, "i").metadata.name
        );
    }
}
