//! The handle tests hold: start a simulator in-process, poke it, shut it down.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::certspotter::injection::Injection;
use crate::counters::Counters;
use crate::faults::FaultRule;
use crate::options::SimOptions;
use crate::request_info::RequestInfo;
use crate::state::{AppState, lock};

/// A running simulator. Dropping it stops the server too; [`Sim::shutdown`] also waits for it.
pub struct Sim {
    url: String,
    local_addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl Sim {
    /// Binds `options.listen`, builds a fresh CA and starts serving on the current Tokio runtime.
    pub async fn start(options: SimOptions) -> anyhow::Result<Sim> {
        for rule in &options.faults {
            rule.validate().map_err(anyhow::Error::msg)?;
        }
        let listener = TcpListener::bind(options.listen).await?;
        let local_addr = listener.local_addr()?;
        let serving = if options.tls {
            Some(crate::tls::serving_identity(local_addr)?)
        } else {
            None
        };
        let tls_ca_pem = serving.as_ref().map(|identity| identity.ca_pem.clone());
        let acceptor = serving.map(|identity| TlsAcceptor::from(identity.config));
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{local_addr}");

        let state = Arc::new(AppState::new(options, tls_ca_pem)?);
        let app = router(state.clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let server = tokio::spawn(crate::server::serve(listener, acceptor, app, shutdown_rx));
        Ok(Sim {
            url,
            local_addr,
            state,
            shutdown,
            server: Some(server),
        })
    }

    /// `http://127.0.0.1:PORT` (or `https://` with TLS), without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The issuing root: the trust anchor for every chain the sim hands out.
    pub fn root_ca_pem(&self) -> &str {
        &self.state.ca.root.pem
    }

    pub fn intermediate_pem(&self) -> &str {
        &self.state.ca.intermediate.pem
    }

    /// With `tls: true`, the CA that signed the sim's HTTPS serving certificate.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.state.tls_ca_pem.as_deref()
    }

    pub fn counters(&self) -> Counters {
        lock(&self.state.counters).snapshot()
    }

    pub fn reset_counters(&self) {
        lock(&self.state.counters).reset();
    }

    /// Issues a pending request (by the request id its submit answered with) now.
    pub fn approve(&self, request_id: &str) -> anyhow::Result<()> {
        self.state.approve(request_id)?;
        Ok(())
    }

    /// Rejects a pending request; its pickups answer `REJECTED` from then on.
    pub fn reject(&self, request_id: &str) -> anyhow::Result<()> {
        self.state.reject(request_id)?;
        Ok(())
    }

    /// Every submit and renew the sim accepted, oldest first (as `GET /sim/requests`).
    pub fn requests(&self) -> Vec<RequestInfo> {
        self.state.requests()
    }

    /// Sets the state (`issued`, `revoked`, `suspended` or `expired`) of the certificate
    /// `GET /certificate/{serial}` reports.
    pub fn set_certificate_status(&self, serial: &str, status: &str) -> anyhow::Result<()> {
        self.state.set_certificate_status(serial, status)?;
        Ok(())
    }

    /// CertCentral: approves what order `id` waits for (the order, a reissue or a revocation).
    pub fn certcentral_approve(&self, order_id: u64) -> anyhow::Result<()> {
        Ok(crate::certcentral_orders::admin::approve(&self.state, order_id)?)
    }

    /// CertCentral: completes validation, issuing order `id`'s certificate (or reissue) now.
    pub fn certcentral_issue(&self, order_id: u64) -> anyhow::Result<()> {
        Ok(crate::certcentral_orders::admin::issue(&self.state, order_id)?)
    }

    /// CertCentral: rejects (`cancel`: false) or cancels a waiting order.
    pub fn certcentral_settle(&self, order_id: u64, cancel: bool) -> anyhow::Result<()> {
        use crate::certcentral_orders::OrderStatus;
        let to = if cancel {
            OrderStatus::Canceled
        } else {
            OrderStatus::Rejected
        };
        Ok(crate::certcentral_orders::admin::settle(
            &self.state,
            order_id,
            to,
        )?)
    }

    /// Replaces the fault rules; refuses the whole set if any rule is invalid.
    pub fn set_faults(&self, rules: Vec<FaultRule>) -> anyhow::Result<()> {
        for rule in &rules {
            rule.validate().map_err(anyhow::Error::msg)?;
        }
        lock(&self.state.faults).set_rules(rules);
        Ok(())
    }

    /// Removes every fault rule and forgets current throttle windows.
    pub fn clear_faults(&self) {
        lock(&self.state.faults).set_rules(Vec::new());
        lock(&self.state.throttles).clear();
    }

    /// Adds an issuance to the Cert Spotter feed; returns its id.
    pub fn inject_issuance(&self, injection: Injection) -> anyhow::Result<String> {
        self.state.inject(&injection).map_err(anyhow::Error::msg)
    }

    /// Every Qualys enrollment request, oldest first (as `GET /sim/qualys/orders`).
    pub fn qualys_orders(&self) -> Vec<serde_json::Value> {
        crate::qualys::admin::summaries(&self.state)
    }

    /// Acts on a Qualys enrollment request as its approver (`approve`, `reject`) or as DigiCert
    /// (`issue`; `reject` of an approved one), as `POST /sim/qualys/orders/{uuid}/{action}`.
    pub fn qualys_act(&self, uuid: &str, action: &str) -> anyhow::Result<()> {
        crate::qualys::admin::act(&self.state, uuid, action).map_err(anyhow::Error::msg)
    }

    /// Stops accepting, closes every connection and waits until the port is released.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(crate::tlm::routes())
        .merge(crate::certspotter::routes())
        .merge(crate::certcentral::routes())
        .merge(crate::qualys::routes(state.clone()))
        .merge(crate::certcentral_orders::routes(state.clone()))
        .merge(crate::admin::routes(state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::traffic::traffic,
        ))
        .with_state(state)
}
