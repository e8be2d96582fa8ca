//! `tls: true`: HTTPS with a CA the sim hands out.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn serves_https_trusted_through_tls_ca_pem() {
    let sim = start_with(|o| o.tls = true).await;
    assert!(sim.url().starts_with("https://127.0.0.1:"), "{}", sim.url());
    let tls_ca = sim.tls_ca_pem().expect("tls CA with tls: true").to_string();
    assert_ne!(
        tls_ca,
        sim.root_ca_pem(),
        "serving CA is separate from the issuing CA"
    );

    let trusting = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(tls_ca.as_bytes()).expect("pem")])
        .build()
        .expect("client");
    let hello = send(trusting.get(format!("{}/mpki/api/v1/hello", sim.url()))).await;
    assert_eq!(hello.status, StatusCode::OK);
    let ca = send(trusting.get(format!("{}/sim/ca", sim.url()))).await.json();
    assert_eq!(ca["tls_ca_pem"], tls_ca.as_str());

    let issuing_root_only = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_pem(sim.root_ca_pem().as_bytes()).expect("pem")])
        .build()
        .expect("client");
    let refused = issuing_root_only
        .get(format!("{}/mpki/api/v1/hello", sim.url()))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "the serving certificate does not chain to the issuing root"
    );

    let localhost = sim.url().replace("127.0.0.1", "localhost");
    assert_eq!(
        send(trusting.get(format!("{localhost}/mpki/api/v1/hello")))
            .await
            .status,
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_releases_the_port() {
    let sim = start().await;
    let addr = sim.local_addr();
    sim.shutdown().await;
    let refused = client()
        .get(format!("http://{addr}/mpki/api/v1/hello"))
        .send()
        .await;
    assert!(refused.is_err(), "nothing listens after shutdown");
    let rebound = tokio::net::TcpListener::bind(addr).await;
    assert!(rebound.is_ok(), "port is free again");
}
