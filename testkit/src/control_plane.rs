//! Starting, sharing and stopping etcd + kube-apiserver.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::sync::OnceCell;

use crate::certs::write_pki;
use crate::kubeconfig;
use crate::paths::{require_binary, scratch_dir};
use crate::ports::free_port;

const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A running etcd + kube-apiserver pair on loopback.
pub struct ControlPlane {
    dir: PathBuf,
    server: String,
    serving_ca_pem: String,
    kubeconfig_path: PathBuf,
    children: Mutex<Vec<Child>>,
    keep: bool,
}

static SHARED: OnceCell<ControlPlane> = OnceCell::const_new();

/// The control plane shared by every test in this test binary, started on first use. Its
/// processes die with the test process.
pub async fn shared() -> Result<&'static ControlPlane> {
    SHARED.get_or_try_init(ControlPlane::start).await
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver on free loopback ports and waits until `/readyz` answers
    /// 200. Fails with the install command when a binary is missing.
    pub async fn start() -> Result<Self> {
        let etcd = require_binary("etcd")?;
        let apiserver = require_binary("kube-apiserver")?;
        let mut last_error = None;
        // A port picked as free may be taken before the server binds it: retry the whole start.
        for _ in 0..3 {
            match Self::start_once(&etcd, &apiserver).await {
                Ok(cp) => return Ok(cp),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("control plane did not start")))
    }

    async fn start_once(etcd_bin: &Path, apiserver_bin: &Path) -> Result<Self> {
        let dir = scratch_dir()?;
        let pki = write_pki(&dir)?;
        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let api_port = free_port()?;
        let server = format!("https://127.0.0.1:{api_port}");

        let mut etcd = Command::new(etcd_bin);
        etcd.args([
            "--name=default".to_string(),
            format!("--data-dir={}", dir.join("etcd").display()),
            format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"),
            format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"),
            format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
            format!("--initial-cluster=default=http://127.0.0.1:{peer_port}"),
            "--unsafe-no-fsync=true".to_string(),
            "--log-level=warn".to_string(),
        ]);
        let mut cp = ControlPlane {
            serving_ca_pem: pki.serving_ca_pem.clone(),
            kubeconfig_path: dir.join("admin.kubeconfig"),
            server: server.clone(),
            dir: dir.clone(),
            children: Mutex::new(Vec::new()),
            keep: false,
        };
        cp.spawn(etcd, "etcd.log")?;

        let d = |name: &str| dir.join(name).display().to_string();
        let mut api = Command::new(apiserver_bin);
        api.args([
            format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
            format!("--cert-dir={}", d("apiserver-certs")),
            format!("--tls-cert-file={}", d("serving.crt")),
            format!("--tls-private-key-file={}", d("serving.key")),
            format!("--client-ca-file={}", d("client-ca.crt")),
            format!("--secure-port={api_port}"),
            "--bind-address=127.0.0.1".to_string(),
            "--advertise-address=127.0.0.1".to_string(),
            "--service-cluster-ip-range=10.0.0.0/24".to_string(),
            "--allow-privileged=true".to_string(),
            // No controller-manager runs, so nothing would create default ServiceAccounts.
            "--disable-admission-plugins=ServiceAccount".to_string(),
            "--authorization-mode=RBAC".to_string(),
            format!("--service-account-issuer={server}/"),
            format!("--service-account-key-file={}", d("sa.pub")),
            format!("--service-account-signing-key-file={}", d("sa.key")),
            "--v=0".to_string(),
        ]);
        cp.spawn(api, "kube-apiserver.log")?;

        std::fs::write(
            &cp.kubeconfig_path,
            kubeconfig::render(
                &server,
                &pki.serving_ca_pem,
                &pki.admin_cert_pem,
                &pki.admin_key_pem,
                "admin",
            ),
        )
        .context("write admin kubeconfig")?;

        cp.wait_ready().await?;
        Ok(cp)
    }

    /// Spawns a child from a thread that lives as long as the process, with PDEATHSIG set, so
    /// the child is killed when this process exits even if nobody drops the ControlPlane (the
    /// shared instance is a static).
    fn spawn(&mut self, mut cmd: Command, log_name: &str) -> Result<()> {
        let log = File::create(self.dir.join(log_name)).context("create log file")?;
        cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        let child = spawn_tied_to_process(cmd).with_context(|| format!("spawn for {log_name}"))?;
        self.children.lock().expect("children lock").push(child);
        Ok(())
    }

    async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let client = self.client().await?;
        loop {
            self.check_children_alive()?;
            let req = http::Request::get("/readyz").body(Vec::new())?;
            match client.request_text(req).await {
                Ok(body) if body.trim() == "ok" => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(body) => bail!(
                    "kube-apiserver not ready after {READY_TIMEOUT:?}: {body}\n{}",
                    self.log_tail()
                ),
                Err(e) => bail!(
                    "kube-apiserver not ready after {READY_TIMEOUT:?}: {e}\n{}",
                    self.log_tail()
                ),
            }
        }
    }

    fn check_children_alive(&self) -> Result<()> {
        let mut children = self.children.lock().expect("children lock");
        for child in children.iter_mut() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "a control-plane process exited early ({status})\n{}",
                    self.log_tail()
                );
            }
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let mut out = String::new();
        for name in ["etcd.log", "kube-apiserver.log"] {
            let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(15);
            out.push_str(&format!(
                "--- last lines of {name} ---\n{}\n",
                lines[start..].join("\n")
            ));
        }
        out
    }

    /// An admin (`system:masters`) client.
    pub async fn client(&self) -> Result<kube::Client> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig_path)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// Path of the admin kubeconfig (for kubectl, helm and the operator process).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// PEM of the CA that signed the API server's serving certificate.
    pub fn serving_ca_pem(&self) -> &str {
        &self.serving_ca_pem
    }

    /// Scratch directory of this control plane (logs, certificates, kubeconfigs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a kubeconfig that authenticates with `token` (e.g. from the TokenRequest API).
    pub fn write_token_kubeconfig(&self, name: &str, token: &str) -> Result<PathBuf> {
        let path = self.dir.join(format!("{name}.kubeconfig"));
        std::fs::write(
            &path,
            kubeconfig::render_token(&self.server, &self.serving_ca_pem, token, name),
        )?;
        Ok(path)
    }

    /// Keep the processes running after this value is dropped (the demo's `--keep`).
    pub fn keep_running(&mut self) {
        self.keep = true;
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let mut children = self.children.lock().unwrap_or_else(|e| e.into_inner());
        // Stop the apiserver before etcd, so it does not log a storm of etcd errors.
        for child in children.iter_mut().rev() {
            // SAFETY: sending SIGTERM to our own child process.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Linux sends PDEATHSIG when the *thread* that forked the child exits, so children are forked
/// from one thread that never exits.
pub(crate) fn spawn_tied_to_process(cmd: Command) -> std::io::Result<Child> {
    static KEEPER: std::sync::OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = std::sync::OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testkit-process-keeper".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    use std::os::unix::process::CommandExt;
                    // SAFETY: prctl is async-signal-safe; it only sets a flag on the child.
                    unsafe {
                        cmd.pre_exec(|| {
                            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                            Ok(())
                        });
                    }
                    let _ = reply.send(cmd.spawn());
                }
                // The sender lives in a static, so this loop never ends and the thread stays.
            })
            .expect("spawn process keeper thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    keeper
        .lock()
        .expect("keeper lock")
        .send((cmd, reply_tx))
        .map_err(|_| std::io::Error::other("process keeper thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("process keeper thread did not answer"))?
}
