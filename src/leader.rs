//! Lease-based leader election (kube-lease-manager): only the holder of the Lease reconciles.

use anyhow::{Context, Result};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;

/// Lease timing: a standby takes over at most this long after the leader dies.
const LEASE_SECONDS: u64 = 15;
const GRACE_SECONDS: u64 = 5;

pub struct Leadership {
    pub is_leader: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<kube_lease_manager::Result<LeaseManager>>,
}

impl Leadership {
    /// Starts competing for the Lease `namespace/name` as `identity`.
    pub async fn start(client: kube::Client, namespace: &str, name: &str, identity: &str) -> Result<Self> {
        let manager = LeaseManagerBuilder::new(client, name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(LEASE_SECONDS)
            .with_grace(GRACE_SECONDS)
            .build()
            .await
            .context("create lease manager")?;
        let (is_leader, task) = manager.watch().await;
        Ok(Self { is_leader, task })
    }

    /// Waits until this process holds the Lease.
    pub async fn acquired(&mut self) -> Result<()> {
        while !*self.is_leader.borrow_and_update() {
            self.is_leader.changed().await.context("lease manager stopped")?;
        }
        Ok(())
    }

    /// Resolves when leadership is lost after having been acquired.
    pub async fn lost(&mut self) {
        loop {
            if !*self.is_leader.borrow_and_update() {
                return;
            }
            if self.is_leader.changed().await.is_err() {
                return;
            }
        }
    }

    /// Gives the Lease up so a standby takes over at once (graceful shutdown).
    pub async fn release(self) {
        // Closing the channel makes the manager's task release the Lease and end.
        drop(self.is_leader);
        match self.task.await {
            Ok(Ok(_)) => tracing::info!("lease released"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not release the lease"),
            Err(e) => tracing::warn!(error = %e, "lease manager task failed"),
        }
    }
}
