use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Kubernetes operator for DigiCert Trust Lifecycle Manager certificates and CT monitoring.
#[derive(Parser)]
#[command(name = "tlm-operator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML (for `kubectl apply -f -`).
    Crds {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long)]
        output_dir: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Crds { output_dir: None } => {
            print!("{}", tlm_operator::crd_yaml::render_all()?);
        }
        Command::Crds {
            output_dir: Some(dir),
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
