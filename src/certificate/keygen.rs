//! RSA key generation on its own threads, taken from a queue that is fair between namespaces.
//!
//! An RSA-4096 key takes about a second of CPU. On tokio's blocking pool it would compete with
//! everything else that pool runs (DNS lookups for every outgoing connection), and in a FIFO
//! one namespace's thousand keys would delay every other namespace's first one. Here the keys
//! are made by a fixed number of threads (by default one core less than the machine has), the
//! next key is always taken from the namespace after the one served last, and a reconcile does
//! not wait for its key: it asks, goes away (freeing its worker for other Certificates) and
//! collects the key when it comes back.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use crate::api::KeyAlgorithm;
use crate::pki::{PkiError, PrivateKey};

struct Job {
    id: String,
    algorithm: KeyAlgorithm,
    size: Option<u32>,
}

/// Jobs by namespace, served round robin.
#[derive(Default)]
struct FairQueue {
    by_namespace: HashMap<String, VecDeque<Job>>,
    /// Namespaces with jobs waiting, in the order they will be served.
    turn: VecDeque<String>,
}

impl FairQueue {
    fn push(&mut self, namespace: &str, job: Job) {
        let queue = self.by_namespace.entry(namespace.to_string()).or_default();
        if queue.is_empty() {
            self.turn.push_back(namespace.to_string());
        }
        queue.push_back(job);
    }

    fn pop(&mut self) -> Option<Job> {
        let namespace = self.turn.pop_front()?;
        let queue = self.by_namespace.get_mut(&namespace)?;
        let job = queue.pop_front();
        if queue.is_empty() {
            self.by_namespace.remove(&namespace);
        } else {
            self.turn.push_back(namespace);
        }
        job
    }
}

#[derive(Default)]
struct State {
    fair: FairQueue,
    /// Asked for and not yet collected (queued or being generated).
    pending: HashSet<String>,
    done: HashMap<String, Result<PrivateKey, PkiError>>,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
}

/// What asking for a key gives.
pub enum KeyTicket {
    Ready(Result<PrivateKey, PkiError>),
    /// Being made; `waiting` keys (this one included) are not collected yet.
    Waiting {
        waiting: usize,
    },
}

/// A handle to the key threads; cheap to clone.
#[derive(Clone)]
pub struct KeyPool {
    shared: Arc<Shared>,
    threads: usize,
}

impl std::fmt::Debug for KeyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl KeyPool {
    /// Starts `threads` key threads (at least one). They live as long as the process.
    pub fn start(threads: usize) -> Self {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            ready: Condvar::new(),
        });
        for i in 0..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("keygen-{i}"))
                .spawn(move || work(&shared))
                .expect("spawn a key generation thread");
        }
        Self { shared, threads }
    }

    /// One less than the machine's cores, at least one: the rest keep serving everyone else.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(1)
            .max(1)
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The key `id` (one per Certificate and key parameters) if it is made; otherwise asks for
    /// it, in `namespace`'s turn, once.
    pub fn poll(&self, id: &str, namespace: &str, algorithm: KeyAlgorithm, size: Option<u32>) -> KeyTicket {
        let mut state = self.shared.state.lock().expect("key state lock");
        if let Some(result) = state.done.remove(id) {
            state.pending.remove(id);
            return KeyTicket::Ready(result);
        }
        if state.pending.insert(id.to_string()) {
            state.fair.push(
                namespace,
                Job {
                    id: id.to_string(),
                    algorithm,
                    size,
                },
            );
            self.shared.ready.notify_one();
        }
        KeyTicket::Waiting {
            waiting: state.pending.len(),
        }
    }

    /// Drops keys asked for by ids starting with `prefix` (a deleted Certificate's UID) once
    /// they are made; a key being made now is dropped when it is done and nobody collects it
    /// (bounded by the number of Certificates).
    pub fn forget(&self, prefix: &str) {
        let mut state = self.shared.state.lock().expect("key state lock");
        state.done.retain(|id, _| !id.starts_with(prefix));
        state.pending.retain(|id| !id.starts_with(prefix));
    }
}

fn work(shared: &Shared) {
    loop {
        let job = {
            let mut state = shared.state.lock().expect("key state lock");
            loop {
                if let Some(job) = state.fair.pop() {
                    break job;
                }
                state = shared.ready.wait(state).expect("key state lock");
            }
        };
        // A panic while generating must not take the thread (and every later key) with it.
        let key = std::panic::catch_unwind(|| PrivateKey::generate(job.algorithm, job.size))
            .unwrap_or_else(|_| Err(PkiError::KeyGeneration("key generation panicked".into())));
        let mut state = shared.state.lock().expect("key state lock");
        // Forgotten meanwhile (the Certificate is gone): nobody will collect it.
        if state.pending.contains(&job.id) {
            state.done.insert(job.id, key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn job(id: &str) -> Job {
        Job {
            id: id.into(),
            algorithm: KeyAlgorithm::ECDSA,
            size: None,
        }
    }

    #[test]
    fn namespaces_take_turns_whatever_their_backlog() {
        let mut q = FairQueue::default();
        for i in 0..5 {
            q.push("busy", job(&format!("b{i}")));
        }
        q.push("quiet", job("q"));
        q.push("other", job("o"));
        let order: Vec<String> = std::iter::from_fn(|| q.pop().map(|j| j.id)).collect();
        // The quiet namespaces wait for one of busy's keys, not for five.
        assert_eq!(order, ["b0", "q", "o", "b1", "b2", "b3", "b4"]);
        assert!(q.by_namespace.is_empty() && q.turn.is_empty());
    }

    #[test]
    fn a_key_is_asked_for_once_and_collected_once() {
        let pool = KeyPool::start(1);
        let key = loop {
            match pool.poll("uid-1/RSA", "ns", KeyAlgorithm::RSA, Some(2048)) {
                KeyTicket::Ready(key) => break key.unwrap(),
                KeyTicket::Waiting { waiting } => assert_eq!(waiting, 1, "asked once"),
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(key.size(), 2048);
        // Collected: asking again makes a new key.
        assert!(matches!(
            pool.poll("uid-1/RSA", "ns", KeyAlgorithm::RSA, Some(2048)),
            KeyTicket::Waiting { .. }
        ));
        pool.forget("uid-1");
        assert_eq!(pool.shared.state.lock().unwrap().pending.len(), 0);
    }
}
