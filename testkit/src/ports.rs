//! Free loopback ports.

use std::net::TcpListener;

use anyhow::{Context, Result};

/// A port that was free a moment ago. Another process may take it before we bind it; callers
/// retry the whole start in that case.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind an ephemeral loopback port")?;
    Ok(listener.local_addr()?.port())
}
