//! A small TLM client and the request bodies tests send.

use rcgen::KeyPair;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tlm_sim::Sim;

use super::{KEY, Reply, client, csr_pem, send};

/// A small TLM client bound to one sim and API key.
pub struct Tlm<'a> {
    pub sim: &'a Sim,
    pub client: Client,
    pub key: Option<String>,
}

impl<'a> Tlm<'a> {
    pub fn new(sim: &'a Sim) -> Self {
        Tlm {
            sim,
            client: client(),
            key: Some(KEY.to_string()),
        }
    }

    pub fn with_key(sim: &'a Sim, key: Option<&str>) -> Self {
        Tlm {
            sim,
            client: client(),
            key: key.map(String::from),
        }
    }

    fn authed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => request.header("x-api-key", key),
            None => request,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.url())
    }

    pub async fn get(&self, path: &str) -> Reply {
        send(self.authed(self.client.get(self.url(path)))).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        send(self.authed(self.client.post(self.url(path)).json(body))).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> Reply {
        send(
            self.authed(
                self.client
                    .post(self.url(path))
                    .header("content-type", "application/json")
                    .body(body),
            ),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        send(self.authed(self.client.put(self.url(path)).json(body))).await
    }

    /// `POST /certificate-pickup/{id}` with the body DigiCert's Terraform provider sends.
    pub async fn pickup(&self, request_id: &str, profile: &str) -> Reply {
        self.post(
            &format!("/mpki/api/v1/certificate-pickup/{request_id}"),
            &json!({"profile": {"id": profile}}),
        )
        .await
    }

    pub async fn renew(&self, serial: &str, thumbprint: Option<&str>, body: &Value) -> Reply {
        let query = thumbprint
            .map(|t| format!("?thumbprint_sha256={t}"))
            .unwrap_or_default();
        self.post(&format!("/mpki/api/v1/certificate/{serial}/renew{query}"), body)
            .await
    }

    pub async fn revoke(&self, serial: &str, thumbprint: Option<&str>, reason: &str) -> Reply {
        let query = thumbprint
            .map(|t| format!("?thumbprint_sha256={t}"))
            .unwrap_or_default();
        self.put(
            &format!("/mpki/api/v1/certificate/{serial}/revoke{query}"),
            &json!({"revocation_reason": reason}),
        )
        .await
    }

    pub async fn search(&self, query: &str) -> Reply {
        self.get(&format!("/mpki/api/v1/certificate-search?{query}"))
            .await
    }

    /// The items of one search page (expects 200).
    pub async fn search_items(&self, query: &str) -> Vec<Value> {
        let reply = self.search(query).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()["items"].as_array().expect("items").clone()
    }

    pub async fn submit(&self, body: &Value) -> Reply {
        self.post("/mpki/api/v1/certificate", body).await
    }

    /// Submits a spec-shaped request (30 days' validity where the profile allows overriding
    /// it) and expects 201.
    pub async fn issue(&self, profile: &str, key: &KeyPair, common_name: &str, dns_names: &[&str]) -> Value {
        let mut body = top_level_request(
            profile,
            &csr_pem(key, Some(common_name), &[]),
            common_name,
            dns_names,
        );
        if profile == "prof-short" {
            without(&mut body, "validity");
        }
        let reply = self.submit(&body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    /// Issues on an immediate profile and returns the serial.
    pub async fn issue_serial(&self, profile: &str, key: &KeyPair, common_name: &str) -> String {
        let body = self.issue(profile, key, common_name, &[]).await;
        body["serial_number"].as_str().expect("serial_number").to_string()
    }

    /// Submits on an approval or pickup profile and returns the request id.
    pub async fn request_id(&self, profile: &str, key: &KeyPair, common_name: &str) -> String {
        let body = self.issue(profile, key, common_name, &[]).await;
        assert_eq!(body["status"], "PENDING", "{body}");
        body["request_id"].as_str().expect("request_id").to_string()
    }

    pub async fn status(&self, serial: &str) -> Reply {
        self.get(&format!("/mpki/api/v1/certificate/{serial}")).await
    }
}

/// The body shape of the published spec (the leaf alone: no `include_ca_chain`).
pub fn top_level_request(profile: &str, csr: &str, common_name: &str, dns_names: &[&str]) -> Value {
    json!({
        "profile": {"id": profile},
        "seat": {"seat_id": "seat@example.com"},
        "csr": csr,
        "validity": {"unit": "days", "duration": 30},
        "delivery_format": "x509",
        "attributes": {
            "subject": {"common_name": common_name},
            "extensions": {"san": {"dns_names": dns_names}}
        }
    })
}

/// A minimal valid body: profile, seat and CSR only.
pub fn minimal_request(profile: &str, csr: &str) -> Value {
    json!({"profile": {"id": profile}, "seat": {"seat_id": "seat@example.com"}, "csr": csr})
}

/// Removes a top-level key from a JSON object body.
pub fn without(body: &mut Value, key: &str) {
    body.as_object_mut().expect("a JSON object").remove(key);
}

/// The tutorial's nested body shape (the real API refuses it).
pub fn nested_request(profile: &str, csr: &str, common_name: &str) -> Value {
    json!({
        "profile": {
            "id": profile,
            "seat": {"id": "nested@example.com"},
            "csr": csr,
            "attributes": {"subject": {"common_name": common_name}}
        }
    })
}
