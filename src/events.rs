//! Publishing `events.k8s.io/v1` Events, with repeats folded into a series as `kubectl describe`
//! expects. `kube`'s `Recorder` does the same but keeps every published Event whole for six
//! minutes and scans all of them on each publish: at 10,000 Certificates issued at once that
//! was megabytes and a quadratic scan. This keeps a few bytes per recent Event, in a map
//! bounded by count and age.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};

/// How long a repeat still joins the earlier Event's series (the `Recorder`'s span).
const SERIES_SPAN: Duration = Duration::from_secs(6 * 60);
/// At most this many recent Events are remembered; beyond it the oldest are forgotten (a
/// forgotten repeat becomes a new Event, nothing is lost).
const MAX_REMEMBERED: usize = 4096;

/// Who publishes: `reportingController` and `reportingInstance`.
#[derive(Clone, Debug)]
pub struct Reporter {
    pub controller: String,
    pub instance: String,
}

/// One Event to publish about `regarding`.
pub struct EventNote<'a> {
    pub warning: bool,
    pub action: &'a str,
    pub reason: &'a str,
    pub note: String,
}

struct Remembered {
    name: String,
    count: i32,
    last: Instant,
}

pub struct EventPublisher {
    client: kube::Client,
    reporter: Reporter,
    recent: Mutex<HashMap<u64, Remembered>>,
}

impl EventPublisher {
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            recent: Mutex::default(),
        }
    }

    /// Creates the Event, or, for a repeat within the series span, bumps the earlier one's
    /// series (with the latest note).
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        event: EventNote<'_>,
    ) -> Result<(), kube::Error> {
        let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let key = series_key(regarding, &event);
        let now = Timestamp::now();
        let repeat = self.next_in_series(key);
        if let Some((name, count)) = repeat {
            let patch = serde_json::json!({
                "note": truncated(&event.note),
                "series": EventSeries { count, last_observed_time: MicroTime(now) },
            });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                // Gone (expired or deleted): start a new Event below.
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.reporter.controller),
            now.as_nanosecond()
        );
        let body = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace),
                ..Default::default()
            },
            action: Some(event.action.to_string()),
            reason: Some(event.reason.to_string()),
            note: Some(truncated(&event.note)),
            type_: Some(if event.warning { "Warning" } else { "Normal" }.to_string()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(self.reporter.instance.clone()),
            ..Default::default()
        };
        api.create(&PostParams::default(), &body).await?;
        self.remember(key, name);
        Ok(())
    }

    /// The earlier Event's name and the repeat's count, if this is a repeat.
    fn next_in_series(&self, key: u64) -> Option<(String, i32)> {
        let mut recent = self.recent.lock().expect("events lock");
        let entry = recent.get_mut(&key)?;
        if entry.last.elapsed() > SERIES_SPAN {
            recent.remove(&key);
            return None;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = Instant::now();
        Some((entry.name.clone(), entry.count))
    }

    fn remember(&self, key: u64, name: String) {
        let mut recent = self.recent.lock().expect("events lock");
        if recent.len() >= MAX_REMEMBERED {
            recent.retain(|_, r| r.last.elapsed() <= SERIES_SPAN);
            if recent.len() >= MAX_REMEMBERED {
                // Still full of recent Events: forget the older half rather than grow.
                let mut ages: Vec<Instant> = recent.values().map(|r| r.last).collect();
                ages.sort_unstable();
                let cutoff = ages[ages.len() / 2];
                recent.retain(|_, r| r.last > cutoff);
            }
        }
        recent.insert(
            key,
            Remembered {
                name,
                count: 1,
                last: Instant::now(),
            },
        );
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.recent.lock().expect("events lock").len()
    }
}

/// What makes two Events one series: the object (by UID), type, action and reason (as the
/// `Recorder` keys them; the note may change from one repeat to the next).
fn series_key(regarding: &ObjectReference, event: &EventNote<'_>) -> u64 {
    let mut hasher = DefaultHasher::new();
    (
        &regarding.uid,
        &regarding.kind,
        &regarding.namespace,
        &regarding.name,
        event.warning,
        event.action,
        event.reason,
    )
        .hash(&mut hasher);
    hasher.finish()
}

/// The API server refuses notes over 1 kB.
fn truncated(note: &str) -> String {
    const MAX: usize = 1024;
    if note.len() <= MAX {
        return note.to_string();
    }
    let mut end = MAX - 3;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &note[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher() -> EventPublisher {
        // Never contacted: these tests exercise the bookkeeping only.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        EventPublisher::new(
            kube::Client::try_from(config).unwrap(),
            Reporter {
                controller: "tlm-operator".into(),
                instance: "test".into(),
            },
        )
    }

    #[tokio::test]
    async fn a_repeat_joins_the_series_and_memory_stays_bounded() {
        let p = publisher();
        p.remember(1, "web.1".into());
        assert_eq!(p.next_in_series(1), Some(("web.1".to_string(), 2)));
        assert_eq!(p.next_in_series(1), Some(("web.1".to_string(), 3)));
        assert_eq!(p.next_in_series(2), None);
        for key in 10..(10 + 3 * MAX_REMEMBERED as u64) {
            p.remember(key, format!("e.{key}"));
        }
        assert!(p.remembered() <= MAX_REMEMBERED, "{}", p.remembered());
    }

    #[test]
    fn the_series_key_tells_objects_and_reasons_apart_but_not_notes() {
        let obj = |uid: &str| ObjectReference {
            uid: Some(uid.into()),
            name: Some("web".into()),
            ..Default::default()
        };
        let ev = |reason: &'static str, note: &str| EventNote {
            warning: true,
            action: "Issue",
            reason,
            note: note.into(),
        };
        assert_eq!(
            series_key(&obj("a"), &ev("Failed", "one")),
            series_key(&obj("a"), &ev("Failed", "two"))
        );
        assert_ne!(
            series_key(&obj("a"), &ev("Failed", "x")),
            series_key(&obj("b"), &ev("Failed", "x"))
        );
        assert_ne!(
            series_key(&obj("a"), &ev("Failed", "x")),
            series_key(&obj("a"), &ev("Issued", "x"))
        );
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        let note = "é".repeat(1000);
        let cut = truncated(&note);
        assert!(cut.len() <= 1024 && cut.ends_with("..."));
        assert_eq!(truncated("short"), "short");
    }
}
