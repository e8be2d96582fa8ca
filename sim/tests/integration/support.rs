//! Shared helpers: starting a sim, making keys and CSRs, and checking issued chains.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PublicKeyData, RsaKeySize};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tlm_sim::{Sim, SimOptions};
use x509_parser::prelude::{FromDer, X509Certificate};

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

#[derive(Clone, Copy, Debug)]
pub enum KeyAlg {
    Rsa2048,
    P256,
    P384,
    Ed25519,
}

pub const ALL_KEY_ALGS: [KeyAlg; 4] = [KeyAlg::Rsa2048, KeyAlg::P256, KeyAlg::P384, KeyAlg::Ed25519];

pub fn key_pair(alg: KeyAlg) -> KeyPair {
    match alg {
        KeyAlg::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyAlg::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlg::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyAlg::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
    }
    .expect("key generation")
}

/// A CSR signed by `key`, with an optional CN and DNS/IP SANs.
pub fn csr_pem(key: &KeyPair, common_name: Option<&str>, sans: &[&str]) -> String {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("csr params");
    params.distinguished_name = DistinguishedName::new();
    if let Some(cn) = common_name {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    params
        .serialize_request(key)
        .expect("csr")
        .pem()
        .expect("csr pem")
}

pub fn spki_der(key: &KeyPair) -> Vec<u8> {
    key.subject_public_key_info()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Every PEM block's DER, in order.
pub fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .map(|pem| {
            let pem = pem.expect("valid PEM block");
            (pem.label, pem.contents)
        })
        .collect()
}

pub fn single_cert_der(pem: &str) -> Vec<u8> {
    let blocks = pem_blocks(pem);
    assert_eq!(blocks.len(), 1, "expected exactly one PEM block");
    assert_eq!(blocks[0].0, "CERTIFICATE");
    blocks[0].1.clone()
}

pub fn parse_cert(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = X509Certificate::from_der(der).expect("certificate parses");
    assert!(rest.is_empty(), "trailing bytes after certificate");
    cert
}

/// Checks leaf → intermediate → root by signature, the root against the sim's trust anchor,
/// and that the leaf carries exactly `expected_spki`.
pub fn verify_chain(
    leaf_der: &[u8],
    intermediate_der: &[u8],
    root_der: &[u8],
    root_pem: &str,
    expected_spki: &[u8],
) {
    let leaf = parse_cert(leaf_der);
    let intermediate = parse_cert(intermediate_der);
    let root = parse_cert(root_der);
    leaf.verify_signature(Some(intermediate.public_key()))
        .expect("leaf signed by intermediate");
    intermediate
        .verify_signature(Some(root.public_key()))
        .expect("intermediate signed by root");
    root.verify_signature(None).expect("root is self-signed");
    assert_eq!(
        root_der,
        single_cert_der(root_pem).as_slice(),
        "root is the sim's trust anchor"
    );
    assert_eq!(leaf.issuer(), intermediate.subject());
    assert!(intermediate.is_ca() && root.is_ca() && !leaf.is_ca());
    assert_eq!(leaf.public_key().raw, expected_spki, "leaf carries the CSR key");
}

/// Certificates inside a PEM PKCS#7 certs-only bundle, decoded independently with `cms`.
pub fn pkcs7_certificates(pem: &str) -> Vec<Vec<u8>> {
    use cms::cert::CertificateChoices;
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    use der::{Decode, Encode};
    let blocks = pem_blocks(pem);
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].0, "PKCS7");
    let content_info = ContentInfo::from_der(&blocks[0].1).expect("ContentInfo");
    assert_eq!(content_info.content_type, const_oid::db::rfc5911::ID_SIGNED_DATA);
    let signed: SignedData = content_info.content.decode_as().expect("SignedData");
    assert!(
        signed.signer_infos.0.is_empty(),
        "certs-only bundles have no signers"
    );
    signed
        .certificates
        .expect("certificates present")
        .0
        .iter()
        .map(|choice| match choice {
            CertificateChoices::Certificate(cert) => cert.to_der().expect("re-encode"),
            CertificateChoices::Other(_) => panic!("unexpected certificate format"),
        })
        .collect()
}

/// Orders an unordered set (PKCS#7) into leaf, intermediate, root by issuer/subject links.
pub fn order_chain(mut certs: Vec<Vec<u8>>) -> [Vec<u8>; 3] {
    assert_eq!(certs.len(), 3);
    let leaf_index = certs
        .iter()
        .position(|der| !parse_cert(der).is_ca())
        .expect("a leaf");
    let leaf = certs.remove(leaf_index);
    let leaf_issuer = parse_cert(&leaf).issuer().to_string();
    let intermediate_index = certs
        .iter()
        .position(|der| parse_cert(der).subject().to_string() == leaf_issuer)
        .expect("intermediate");
    let intermediate = certs.remove(intermediate_index);
    let root = certs.remove(0);
    [leaf, intermediate, root]
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

    pub async fn submit(&self, body: &Value) -> Reply {
        self.post("/mpki/api/v1/certificate", body).await
    }

    /// Submits a top-level-shape request and expects 201.
    pub async fn issue(&self, profile: &str, key: &KeyPair, common_name: &str, dns_names: &[&str]) -> Value {
        let reply = self
            .submit(&top_level_request(
                profile,
                &csr_pem(key, Some(common_name), &[]),
                common_name,
                dns_names,
            ))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    pub async fn status(&self, serial: &str) -> Reply {
        self.get(&format!("/mpki/api/v1/certificate/{serial}")).await
    }
}

/// The body shape real clients send.
pub fn top_level_request(profile: &str, csr: &str, common_name: &str, dns_names: &[&str]) -> Value {
    json!({
        "profile": {"id": profile},
        "seat": {"seat_id": "seat@example.com"},
        "csr": csr,
        "validity": {"unit": "days", "duration": 30},
        "delivery_format": "x509",
        "include_ca_chain": true,
        "attributes": {
            "subject": {"common_name": common_name},
            "extensions": {"san": {"dns_names": dns_names}}
        }
    })
}

/// The tutorial's nested body shape.
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

/// Posts to a `/sim` admin path.
pub async fn admin_post(sim: &Sim, path: &str, body: Option<&Value>) -> Reply {
    let request = client().post(format!("{}{path}", sim.url()));
    send(match body {
        Some(body) => request.json(body),
        None => request,
    })
    .await
}
