use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Kubernetes operator for DigiCert Trust Lifecycle Manager certificates and CT monitoring.
#[derive(Parser)]
#[command(name = "tlm-operator", version, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controllers.
    Run(Box<tlm_operator::run::RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (for `kubectl apply -f -`).
    Crds {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long)]
        output_dir: Option<PathBuf>,
        /// Print the Markdown field reference instead of YAML.
        #[arg(long, conflicts_with = "output_dir")]
        reference: bool,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run(args) => {
            // Every rustls user is on aws-lc-rs; install it as the process default explicitly so
            // no crate can pick another provider at the first TLS use.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            // Few blocking threads: they only generate RSA keys, and every extra thread costs
            // its own malloc arena.
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .max_blocking_threads(4)
                .build()?
                .block_on(tlm_operator::run::run(*args))?;
        }
        Command::Crds { reference: true, .. } => {
            print!("{}", tlm_operator::crd_reference::render());
        }
        Command::Crds { output_dir: None, .. } => {
            print!("{}", tlm_operator::crd_yaml::render_all()?);
        }
        Command::Crds {
            output_dir: Some(dir),
            ..
        } => {
            for crd in tlm_operator::api::all_crds() {
                let path = dir.join(tlm_operator::crd_yaml::file_name(&crd));
                std::fs::write(&path, tlm_operator::crd_yaml::render(&crd)?)
                    .with_context(|| format!("write {}", path.display()))?;
            }
        }
    }
    Ok(())
}
