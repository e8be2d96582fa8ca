//! The operator as a separate process, the way it runs in a cluster: started, probed, killed
//! with SIGKILL or stopped with SIGTERM, its log kept for inspection.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::control_plane::spawn_tied_to_process;
use crate::ports::free_port;

pub struct OperatorProcess {
    child: Option<Child>,
    log: PathBuf,
    metrics_port: u16,
}

impl OperatorProcess {
    /// Starts `<bin> run --kubeconfig ... --metrics-bind 127.0.0.1:<free> --log-format json
    /// <extra>` with `env`, appending stdout and stderr to `log`.
    pub fn start(
        bin: &Path,
        kubeconfig: &Path,
        log: &Path,
        extra: &[String],
        env: &[(&str, &str)],
    ) -> Result<Self> {
        let metrics_port = free_port()?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .context("open operator log")?;
        // A profiler in front of the operator (e.g. `heaptrack -o /tmp/op`), for heap profiles
        // of a benchmark run; the measured PID is then the wrapper's.
        let mut cmd = match std::env::var("TLM_TEST_OPERATOR_WRAPPER") {
            Ok(wrapper) if !wrapper.trim().is_empty() => {
                let mut words = wrapper.split_whitespace();
                let mut cmd = Command::new(words.next().unwrap_or_default());
                cmd.args(words).arg(bin);
                cmd
            }
            _ => Command::new(bin),
        };
        cmd.arg("run")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--metrics-bind")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .arg("--log-format")
            .arg("json")
            .args(extra)
            .env_remove("KUBECONFIG")
            .env(
                "RUST_LOG",
                std::env::var("TLM_TEST_OPERATOR_LOG").unwrap_or_else(|_| "info,tlm_operator=debug".into()),
            )
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = spawn_tied_to_process(cmd).context("spawn tlm-operator")?;
        Ok(Self {
            child: Some(child),
            log: log.to_path_buf(),
            metrics_port,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// `kill -9`: no cleanup of any kind.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to 30s for a graceful exit.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// GET a path on the metrics/probe server; returns (status code, body).
    pub async fn http_get(&self, path: &str) -> Result<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((code, body))
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                bail!(
                    "tlm-operator exited ({status}) before it was ready; log:\n{}",
                    tail(&self.logs(), 40)
                );
            }
            if let Ok((200, _)) = self.http_get("/readyz").await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "tlm-operator not ready after {timeout:?}; log:\n{}",
            tail(&self.logs(), 40)
        )
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `n` lines of a text.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
