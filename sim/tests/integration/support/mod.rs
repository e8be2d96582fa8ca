//! Shared helpers: starting a sim, talking HTTP to it, and checking what it issues.

mod pki;
mod tlm;

pub use pki::*;
pub use tlm::*;

use reqwest::{Client, StatusCode};
use serde_json::Value;
use tlm_sim::{Sim, SimOptions};

pub const KEY: &str = "test-api-key";
pub const LIMITED_KEY: &str = "limited-api-key";

pub async fn start() -> Sim {
    start_with(|_| {}).await
}

pub async fn start_with(configure: impl FnOnce(&mut SimOptions)) -> Sim {
    let mut options = SimOptions::default();
    configure(&mut options);
    Sim::start(options).await.expect("sim starts")
}

pub fn client() -> Client {
    Client::builder().no_proxy().build().expect("reqwest client")
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn error_code(&self) -> String {
        let body = self.json();
        body["errors"][0]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no errors[0].code in {body}"))
            .to_string()
    }

    /// `errors[0].field`, when the error names one.
    pub fn error_field(&self) -> Option<String> {
        self.json()["errors"][0]["field"].as_str().map(String::from)
    }

    pub fn error_message(&self) -> String {
        self.json()["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Asserts a 400 `invalid_input_field` naming `field`.
    #[track_caller]
    pub fn assert_invalid_field(&self, field: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.text);
        assert_eq!(self.error_code(), "invalid_input_field", "{}", self.text);
        assert_eq!(self.error_field().as_deref(), Some(field), "{}", self.text);
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header").to_string())
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body read");
    Reply {
        status,
        headers,
        text,
    }
}

/// Posts to a `/sim` admin path.
pub async fn admin_post(sim: &Sim, path: &str, body: Option<&Value>) -> Reply {
    let request = client().post(format!("{}{path}", sim.url()));
    send(match body {
        Some(body) => request.json(body),
        None => request,
    })
    .await
}
