//! Where the control-plane binaries and the repository are.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The workspace root (the directory holding `hack/` and `crds/`). Cargo sets
/// `CARGO_MANIFEST_DIR` when it runs a test, and that is asked first: the compile-time value is
/// wherever the cached build first happened, and a clone elsewhere that shares the cache would
/// otherwise run another checkout's scripts.
pub fn repo_root() -> PathBuf {
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives one level below the workspace root")
        .to_path_buf();
    let runtime = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    runtime
        .iter()
        .flat_map(|dir| [dir.clone(), dir.join("..")])
        .chain([compiled.clone()])
        .find(|dir| dir.join("hack/install-control-plane.sh").is_file())
        .unwrap_or(compiled)
}

const INSTALL_HINT: &str = "run `make test` (or `hack/install-control-plane.sh`) once to build \
     etcd, kube-apiserver, kubectl and helm into the cache";

/// Directory of the Go-built binaries: `$TLM_CONTROL_PLANE_BIN`, else where the install script
/// puts them (it is the one place that knows the versions).
pub fn bin_dir() -> Result<PathBuf> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(dir) = std::env::var("TLM_CONTROL_PLANE_BIN") {
            return Ok(PathBuf::from(dir));
        }
        let script = repo_root().join("hack/install-control-plane.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("--print-bin-dir")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} --print-bin-dir failed: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

/// Path of one control-plane binary; an error that says how to install it when it is missing.
pub fn require_binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.is_file() {
        bail!("{name} not found at {}: {INSTALL_HINT}", path.display());
    }
    Ok(path)
}

/// Creates a fresh scratch directory for one control plane, removing those left behind by
/// processes that no longer exist.
pub(crate) fn scratch_dir() -> Result<PathBuf> {
    let root = std::env::temp_dir().join("tlm-testkit");
    std::fs::create_dir_all(&root).context("create scratch root")?;
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let pid = name
                .to_string_lossy()
                .split('-')
                .next()
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(pid) = pid {
                // SAFETY: kill with signal 0 only checks whether the pid exists.
                let alive = unsafe { libc::kill(pid, 0) } == 0;
                if !alive {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
    let dir = root.join(format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).context("create scratch dir")?;
    Ok(dir)
}
