//! When each Certificate wants its next pass. One timer per Certificate, kept here by name.
//! kube's controller scheduler would keep two copies of a full `ReconcileRequest` (about 800
//! bytes) for every idle Certificate waiting for its renewal; here a timer costs its name once.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures::Stream;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::time::{DelayQueue, delay_queue};

use super::cached::CachedCertificate;

/// Far enough for any renewal; `DelayQueue` refuses delays beyond about two years.
const LONGEST: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a pass leaves for its Certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Another pass after this long, unless a change wakes it first.
    After(Duration),
    /// No pass until the Certificate, one of its Secrets or its issuer changes.
    OnChange,
}

type Request = (Arc<str>, Option<Instant>);

/// Sets Certificates' timers; held by every pass (cheap to clone).
#[derive(Clone)]
pub struct Wakeups {
    tx: mpsc::UnboundedSender<Request>,
}

impl Wakeups {
    /// The setter, and the stream of Certificates whose time has come.
    pub fn channel() -> (Self, DueCertificates) {
        let (tx, rx) = mpsc::unbounded_channel();
        let due = DueCertificates {
            rx,
            queue: DelayQueue::new(),
            timers: HashMap::new(),
        };
        (Self { tx }, due)
    }

    /// Replaces the Certificate's timer: the pass that just ran knows best, and an earlier
    /// timer left from before it would only cause a pass with nothing to do.
    pub fn set(&self, namespace: &str, name: &str, next: Next) {
        let at = match next {
            Next::After(after) => Some(Instant::now() + after.min(LONGEST)),
            Next::OnChange => None,
        };
        // The receiver lives as long as the controller; after it, nothing needs waking.
        let _ = self.tx.send((key(namespace, name), at));
    }
}

/// The Certificates whose timers have run out, by name, for the controller's `reconcile_on`.
pub struct DueCertificates {
    rx: mpsc::UnboundedReceiver<Request>,
    queue: DelayQueue<Arc<str>>,
    timers: HashMap<Arc<str>, delay_queue::Key>,
}

impl DueCertificates {
    fn apply(&mut self, (name, at): Request) {
        match (self.timers.get(&name), at) {
            (Some(timer), Some(at)) => self.queue.reset_at(timer, at),
            (None, Some(at)) => {
                let timer = self.queue.insert_at(name.clone(), at);
                self.timers.insert(name, timer);
            }
            (Some(_), None) => {
                if let Some(timer) = self.timers.remove(&name) {
                    self.queue.remove(&timer);
                }
            }
            (None, None) => {}
        }
    }

    /// Timers currently set.
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }
}

impl Stream for DueCertificates {
    type Item = ObjectRef<CachedCertificate>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        while let Poll::Ready(Some(request)) = this.rx.poll_recv(cx) {
            this.apply(request);
        }
        // An empty queue answers Ready(None) without registering a waker; the receiver has
        // registered one, and every new timer comes through it.
        match this.queue.poll_expired(cx) {
            Poll::Ready(Some(expired)) => {
                let name = expired.into_inner();
                this.timers.remove(&name);
                Poll::Ready(Some(object_ref(&name)))
            }
            _ => Poll::Pending,
        }
    }
}

/// `namespace/name`: neither part can contain a `/`.
fn key(namespace: &str, name: &str) -> Arc<str> {
    format!("{namespace}/{name}").into()
}

fn object_ref(key: &str) -> ObjectRef<CachedCertificate> {
    let (namespace, name) = key.split_once('/').unwrap_or(("", key));
    ObjectRef::new(name).within(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn name_of(r: &ObjectRef<CachedCertificate>) -> String {
        format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name)
    }

    async fn next_due(due: &mut DueCertificates) -> String {
        name_of(&due.next().await.expect("the stream never ends"))
    }

    #[tokio::test(start_paused = true)]
    async fn timers_run_out_in_order_and_the_last_setting_wins() {
        let (wakeups, mut due) = Wakeups::channel();
        wakeups.set("apps", "late", Next::After(Duration::from_secs(30)));
        wakeups.set("apps", "early", Next::After(Duration::from_secs(60)));
        // A later pass moves "early" ahead of "late", and another sets it again, later.
        wakeups.set("apps", "early", Next::After(Duration::from_secs(10)));
        wakeups.set("ops", "gone", Next::After(Duration::from_secs(5)));
        wakeups.set("ops", "gone", Next::OnChange);
        let start = Instant::now();
        assert_eq!(next_due(&mut due).await, "apps/early");
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert_eq!(next_due(&mut due).await, "apps/late");
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        assert!(due.is_empty(), "a timer that ran out is gone");
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_set_while_waiting_wakes_the_stream() {
        let (wakeups, mut due) = Wakeups::channel();
        let waiting = tokio::spawn(async move {
            let first = next_due(&mut due).await;
            (first, due.len())
        });
        tokio::task::yield_now().await;
        wakeups.set("apps", "web", Next::After(Duration::from_secs(3)));
        let (first, left) = waiting.await.unwrap();
        assert_eq!((first.as_str(), left), ("apps/web", 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_is_capped_and_a_cleared_one_never_fires() {
        let (wakeups, mut due) = Wakeups::channel();
        wakeups.set("apps", "far", Next::After(Duration::from_secs(u64::MAX / 4)));
        wakeups.set("apps", "cleared", Next::After(Duration::from_secs(1)));
        wakeups.set("apps", "cleared", Next::OnChange);
        wakeups.set("apps", "never-set", Next::OnChange);
        let start = Instant::now();
        assert_eq!(next_due(&mut due).await, "apps/far");
        assert_eq!(start.elapsed(), LONGEST);
    }
}
