//! Turns handed out round-robin between tenants. One client (a ClusterIssuer's TLM account) is
//! shared by every namespace; its rate budget is spent one admission at a time, and the next
//! admission goes to the next namespace that is waiting, so a namespace with a thousand
//! Certificates queued delays another namespace's one request by at most one admission per
//! waiting namespace, not by the thousand.
//!
//! Only the holder of the turn waits on the rate limiter and the concurrency cap; when it has
//! both it passes the turn on. The turn travels as a value: a waiter that gives up (its future is
//! dropped) drops the turn, and dropping it passes it on, so a cancelled request never stalls the
//! queue.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Whom a request is counted against; requests without one share the anonymous tenant.
pub type Tenant = Arc<str>;

#[derive(Default)]
pub struct FairTurns {
    shared: Arc<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    taken: bool,
    /// Tenants with waiters, in the order they get their next turn.
    ring: VecDeque<Tenant>,
    waiting: HashMap<Tenant, VecDeque<oneshot::Sender<Turn>>>,
}

/// The right to be the next request admitted. Dropping it passes it to the next tenant.
pub struct Turn {
    queue: Option<Arc<Mutex<Queue>>>,
}

impl FairTurns {
    /// Waits for this tenant's turn.
    pub async fn take(&self, tenant: &Tenant) -> Turn {
        let receiver = {
            let mut queue = self.shared.lock().expect("fair turns lock");
            if !queue.taken {
                queue.taken = true;
                None
            } else {
                let (sender, receiver) = oneshot::channel();
                if !queue.waiting.contains_key(tenant) {
                    queue.ring.push_back(tenant.clone());
                }
                queue.waiting.entry(tenant.clone()).or_default().push_back(sender);
                Some(receiver)
            }
        };
        match receiver {
            None => Turn {
                queue: Some(self.shared.clone()),
            },
            // The sender side lives in the queue until a turn is sent; a turn is only ever
            // dropped by passing it on, so the channel cannot close without a value.
            Some(receiver) => receiver.await.unwrap_or_else(|_| Turn {
                queue: Some(self.shared.clone()),
            }),
        }
    }

    /// Waiters per tenant (for tests and metrics).
    pub fn waiting(&self) -> usize {
        let queue = self.shared.lock().expect("fair turns lock");
        queue.waiting.values().map(VecDeque::len).sum()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let Some(shared) = self.queue.take() else {
            return;
        };
        let mut queue = shared.lock().expect("fair turns lock");
        while let Some(tenant) = queue.ring.pop_front() {
            let Some(waiters) = queue.waiting.get_mut(&tenant) else {
                continue;
            };
            let next = waiters.pop_front();
            if waiters.is_empty() {
                queue.waiting.remove(&tenant);
            } else {
                queue.ring.push_back(tenant);
            }
            let Some(next) = next else { continue };
            let turn = Turn {
                queue: Some(shared.clone()),
            };
            match next.send(turn) {
                Ok(()) => return,
                // That waiter gave up; disarm the returned turn and try the next one.
                Err(mut returned) => {
                    returned.queue = None;
                }
            }
        }
        queue.taken = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tenant(name: &str) -> Tenant {
        Arc::from(name)
    }

    #[tokio::test]
    async fn a_late_tenant_is_served_before_the_busy_tenants_backlog() {
        let turns = Arc::new(FairTurns::default());
        let held = turns.take(&tenant("busy")).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let (turns, order) = (turns.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = turns.take(&tenant("busy")).await;
                order.lock().unwrap().push(format!("busy-{i}"));
            }));
            tokio::task::yield_now().await;
        }
        while turns.waiting() < 50 {
            tokio::task::yield_now().await;
        }
        let (t, o) = (turns.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let _turn = t.take(&tenant("quiet")).await;
            o.lock().unwrap().push("quiet".to_string());
        }));
        while turns.waiting() < 51 {
            tokio::task::yield_now().await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap();
        let position = order.iter().position(|n| n == "quiet").unwrap();
        assert!(position <= 1, "quiet tenant served at {position}: {order:?}");
        assert_eq!(order.len(), 51);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_stall_the_queue() {
        let turns = Arc::new(FairTurns::default());
        let held = turns.take(&tenant("a")).await;
        let t = turns.clone();
        let gives_up = tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_millis(10), t.take(&tenant("b"))).await;
        });
        while turns.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        let t = turns.clone();
        let stays = tokio::spawn(async move { drop(t.take(&tenant("c")).await) });
        gives_up.await.unwrap();
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), stays)
            .await
            .expect("the next waiter got the turn")
            .unwrap();
        // Free again: an uncontended take is immediate.
        tokio::time::timeout(Duration::from_secs(1), turns.take(&tenant("a")))
            .await
            .expect("turn is free");
    }

    #[tokio::test]
    async fn a_turn_dropped_in_flight_is_passed_on() {
        let turns = Arc::new(FairTurns::default());
        let held = turns.take(&tenant("a")).await;
        let t = turns.clone();
        // Receives the turn but is aborted before it runs again.
        let aborted = tokio::spawn(async move {
            let _turn = t.take(&tenant("b")).await;
            std::future::pending::<()>().await;
        });
        while turns.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        drop(held);
        aborted.abort();
        let _ = aborted.await;
        tokio::time::timeout(Duration::from_secs(1), turns.take(&tenant("c")))
            .await
            .expect("turn released by the aborted holder");
    }
}
