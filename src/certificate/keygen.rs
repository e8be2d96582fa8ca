//! RSA key generation on its own threads, taken from a queue that is fair between namespaces.
//!
//! An RSA-4096 key takes about a second of CPU. On tokio's blocking pool it would compete with
//! everything else that pool runs (DNS lookups for every outgoing connection), and in a FIFO
//! one namespace's thousand keys would delay every other namespace's first one. Here the keys
//! are made by a fixed number of threads (by default one core less than the machine has), and
//! the next key is always taken from the namespace after the one served last.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::oneshot;

use crate::api::KeyAlgorithm;
use crate::pki::{PkiError, PrivateKey};

type Reply = oneshot::Sender<Result<PrivateKey, PkiError>>;

struct Job {
    algorithm: KeyAlgorithm,
    size: Option<u32>,
    reply: Reply,
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

struct Shared {
    queue: Mutex<FairQueue>,
    ready: Condvar,
}

/// A handle to the key threads; cheap to clone.
#[derive(Clone)]
pub struct KeyPool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for KeyPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPool").finish_non_exhaustive()
    }
}

impl KeyPool {
    /// Starts `threads` key threads (at least one). They live as long as the process.
    pub fn start(threads: usize) -> Self {
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            ready: Condvar::new(),
        });
        for i in 0..threads.max(1) {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("keygen-{i}"))
                .spawn(move || work(&shared))
                .expect("spawn a key generation thread");
        }
        Self { shared }
    }

    /// One less than the machine's cores, at least one: the rest keep serving everyone else.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(1)
            .max(1)
    }

    /// Generates a key in `namespace`'s turn.
    pub async fn generate(
        &self,
        namespace: &str,
        algorithm: KeyAlgorithm,
        size: Option<u32>,
    ) -> Result<PrivateKey, PkiError> {
        let (reply, answer) = oneshot::channel();
        self.shared.queue.lock().expect("key queue lock").push(
            namespace,
            Job {
                algorithm,
                size,
                reply,
            },
        );
        self.shared.ready.notify_one();
        answer.await.unwrap_or_else(|_| {
            Err(PkiError::KeyGeneration(
                "the key generation thread stopped".into(),
            ))
        })
    }
}

fn work(shared: &Shared) {
    loop {
        let job = {
            let mut queue = shared.queue.lock().expect("key queue lock");
            loop {
                if let Some(job) = queue.pop() {
                    break job;
                }
                queue = shared.ready.wait(queue).expect("key queue lock");
            }
        };
        // A panic while generating must not take the thread (and every later key) with it.
        let key = std::panic::catch_unwind(|| PrivateKey::generate(job.algorithm, job.size))
            .unwrap_or_else(|_| Err(PkiError::KeyGeneration("key generation panicked".into())));
        // The requester may have gone (its reconcile was cancelled): nothing to do then.
        let _ = job.reply.send(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> (Job, oneshot::Receiver<Result<PrivateKey, PkiError>>) {
        let (reply, rx) = oneshot::channel();
        (
            Job {
                algorithm: KeyAlgorithm::ECDSA,
                size: None,
                reply,
            },
            rx,
        )
    }

    #[test]
    fn namespaces_take_turns_whatever_their_backlog() {
        let mut q = FairQueue::default();
        let mut order = Vec::new();
        for _ in 0..5 {
            q.push("busy", job().0);
        }
        q.push("quiet", job().0);
        q.push("other", job().0);
        while let Some(_job) = q.pop() {
            order.push(q.turn.clone());
        }
        // busy, quiet, other, then the rest of busy: the quiet namespaces wait for one key,
        // not for five.
        assert_eq!(order.len(), 7);
        assert_eq!(order[0], ["quiet", "other", "busy"]);
        assert_eq!(order[1], ["other", "busy"]);
        assert_eq!(order[2], ["busy"]);
        assert!(q.by_namespace.is_empty());
    }

    #[tokio::test]
    async fn keys_come_back_from_the_pool() {
        let pool = KeyPool::start(1);
        let key = pool.generate("ns", KeyAlgorithm::RSA, Some(2048)).await.unwrap();
        assert_eq!(key.size(), 2048);
    }
}
