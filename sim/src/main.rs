//! `tlm-sim`: run the simulator as a process (demo, benchmarks, manual poking).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tlm_sim::{ApiKeyGrant, FaultRule, Sim, SimOptions};

#[derive(Debug, Parser)]
#[command(
    name = "tlm-sim",
    version,
    about = "Local simulator of DigiCert TLM, Cert Spotter and CertCentral"
)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Serve HTTPS with a throwaway CA (its PEM is at GET /sim/ca as tls_ca_pem).
    #[arg(long)]
    tls: bool,
    /// TLM API key, optionally limited to profiles: KEY or KEY=PROFILE,PROFILE. Repeatable;
    /// replaces the default keys.
    #[arg(long = "api-key", value_name = "KEY[=PROFILE,...]")]
    api_keys: Vec<String>,
    /// prof-pending requests answer PENDING to N pickups, then are issued by the next.
    #[arg(long, value_name = "N")]
    auto_approve_after_polls: Option<u32>,
    /// Lifetime of prof-short certificates.
    #[arg(long, value_name = "S", default_value_t = 60)]
    short_validity_seconds: u64,
    #[arg(long, value_name = "N", default_value_t = 100)]
    certspotter_page_size: usize,
    #[arg(long, value_name = "N")]
    certspotter_quota_per_hour: Option<u32>,
    #[arg(long, value_name = "S", default_value_t = 60)]
    certspotter_empty_retry_after_seconds: u64,
    /// Cert Spotter API token (repeatable). Without any, unauthenticated queries are allowed.
    #[arg(long = "certspotter-token", value_name = "TOKEN")]
    certspotter_tokens: Vec<String>,
    /// CertCentral X-DC-DEVKEY (repeatable); replaces the default key.
    #[arg(long = "certcentral-api-key", value_name = "KEY")]
    certcentral_api_keys: Vec<String>,
    /// CertCentral orders placed with skip_approval wait in `pending` (validation).
    #[arg(long)]
    certcentral_pending_validation: bool,
    /// A pending CertCentral order is issued by the order-info poll after N polls.
    #[arg(long, value_name = "N")]
    certcentral_issue_after_polls: Option<u32>,
    /// Lifetime of CertCentral leaves (default: the order's validity).
    #[arg(long, value_name = "S")]
    certcentral_leaf_lifetime_seconds: Option<u64>,
    /// Qualys API user as USER:PASSWORD (repeatable); replaces the default user.
    #[arg(long = "qualys-user", value_name = "USER:PASSWORD")]
    qualys_users: Vec<String>,
    /// Lifetime of the JWTs Qualys' /auth hands out.
    #[arg(long, value_name = "S", default_value_t = 4 * 3600)]
    qualys_token_lifetime_seconds: u64,
    /// Qualys requests stay SUBMITTED until approved (POST /sim/qualys/orders/{uuid}/approve).
    #[arg(long)]
    qualys_manual_approval: bool,
    /// Approved Qualys requests stay APPROVED until POST /sim/qualys/orders/{uuid}/issue.
    #[arg(long)]
    qualys_manual_issuance: bool,
    /// Fault rule, e.g. `submit:error_rate=0.3,latency_ms=100` (repeatable).
    #[arg(long = "fault", value_name = "SPEC")]
    faults: Vec<String>,
    /// Seed for the fault dice, to replay a run.
    #[arg(long)]
    seed: Option<u64>,
}

impl Cli {
    fn into_options(self) -> anyhow::Result<SimOptions> {
        let defaults = SimOptions::default();
        let api_keys = if self.api_keys.is_empty() {
            defaults.api_keys
        } else {
            self.api_keys
                .iter()
                .map(|spec| ApiKeyGrant::parse(spec))
                .collect::<anyhow::Result<_>>()?
        };
        let certcentral_api_keys = if self.certcentral_api_keys.is_empty() {
            defaults.certcentral_api_keys
        } else {
            self.certcentral_api_keys
        };
        let mut qualys = defaults.qualys;
        if !self.qualys_users.is_empty() {
            qualys.users = self
                .qualys_users
                .iter()
                .map(|spec| match spec.split_once(':') {
                    Some((user, password)) if !user.is_empty() => {
                        Ok((user.to_string(), password.to_string()))
                    }
                    _ => Err(anyhow::anyhow!("--qualys-user needs USER:PASSWORD")),
                })
                .collect::<anyhow::Result<_>>()?;
        }
        qualys.token_lifetime = Duration::from_secs(self.qualys_token_lifetime_seconds.max(1));
        qualys.manual_approval = self.qualys_manual_approval;
        qualys.manual_issuance = self.qualys_manual_issuance;
        let faults = self
            .faults
            .iter()
            .map(|spec| FaultRule::parse_spec(spec).map_err(|e| anyhow::anyhow!("--fault {spec}: {e}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(SimOptions {
            listen: self.listen,
            tls: self.tls,
            api_keys,
            auto_approve_after_polls: self.auto_approve_after_polls,
            short_validity: Duration::from_secs(self.short_validity_seconds),
            certspotter_page_size: self.certspotter_page_size,
            certspotter_quota_per_hour: self.certspotter_quota_per_hour,
            certspotter_empty_retry_after: Duration::from_secs(self.certspotter_empty_retry_after_seconds),
            certspotter_tokens: self.certspotter_tokens,
            certcentral_api_keys,
            certcentral_pending_validation: self.certcentral_pending_validation,
            certcentral_issue_after_polls: self.certcentral_issue_after_polls,
            certcentral_rate_limits: defaults.certcentral_rate_limits,
            certcentral_leaf_lifetime: self.certcentral_leaf_lifetime_seconds.map(Duration::from_secs),
            qualys,
            faults,
            seed: self.seed,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let options = Cli::parse().into_options()?;
    let sim = Sim::start(options).await?;
    // Scripts wait for this exact line to learn the URL (and the port, when started on :0).
    let mut stdout = std::io::stdout();
    writeln!(stdout, "tlm-sim listening on {}", sim.url())?;
    stdout.flush()?;
    wait_for_stop_signal().await?;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
