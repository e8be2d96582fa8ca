//! The JSON objects TLM answers with: certificate status, enrollment results, additional formats.

use serde_json::{Map, Value, json};

use crate::ca::IssuedCertificate;
use crate::certspotter::feed::rfc3339;
use crate::errors::ApiError;
use crate::pkcs7;
use crate::profiles::{DeliveryFormat, Profile};
use crate::state::AppState;
use crate::tlm::store::{CertificateRecord, RecordState};

/// The status object (`GET /certificate/{serial}`); search items are the same without the PEM.
pub fn status_view(state: &AppState, record: &CertificateRecord, with_certificate: bool) -> Value {
    let order = &record.order;
    let profile_name = state
        .profile(record.profile_id)
        .map(|p| p.name)
        .unwrap_or_default();
    let mut view = Map::new();
    view.insert("serial_number".into(), json!(record.serial));
    view.insert("status".into(), json!(record.state.wire_name()));
    view.insert("common_name".into(), json!(order.subject.common_name));
    view.insert(
        "profile".into(),
        json!({"id": record.profile_id, "name": profile_name}),
    );
    view.insert("seat".into(), json!({"seat_id": record.seat_id}));
    view.insert("subject".into(), json!(order.subject));
    view.insert(
        "san".into(),
        json!({
            "dns_names": order.sans.dns_names,
            "ip_addresses": order.sans.ip_addresses,
            "emails": order.sans.emails,
            "uris": order.sans.uris,
        }),
    );
    view.insert("issuing_ca_name".into(), json!(state.ca.intermediate.common_name));
    view.insert("key_size".into(), json!(order.key.size_bits()));
    view.insert("signature_algorithm".into(), json!(order.key.algorithm_name()));
    if let Some(request_id) = &record.request_id {
        view.insert("request_id".into(), json!(request_id));
    }
    if let Some(renewal_of) = &record.renewal_of {
        view.insert("renewal_of".into(), json!(renewal_of));
    }
    if let RecordState::Revoked { reason } = &record.state {
        view.insert("revocation_reason".into(), json!(reason));
    }
    if let Some(cert) = &record.certificate {
        view.insert("thumbprint".into(), json!(cert.thumbprint));
        view.insert("valid_from".into(), json!(rfc3339(cert.not_before)));
        view.insert("valid_to".into(), json!(rfc3339(cert.not_after)));
        if with_certificate {
            view.insert("certificate".into(), json!(cert.pem));
        }
    }
    Value::Object(view)
}

/// The certificate as the profile delivers it: the leaf PEM, or a PKCS#7 bundle with the chain.
pub fn delivered_certificate(
    state: &AppState,
    profile: &Profile,
    cert: &IssuedCertificate,
) -> Result<String, ApiError> {
    match profile.delivery {
        DeliveryFormat::X509 => Ok(cert.pem.clone()),
        DeliveryFormat::Pkcs7 => pkcs7_pem(state, cert),
    }
}

pub fn pkcs7_pem(state: &AppState, cert: &IssuedCertificate) -> Result<String, ApiError> {
    pkcs7::certs_only_pem(&state.chain_ders(cert)).map_err(|e| {
        ApiError::internal(
            crate::endpoints::Service::Tlm,
            format!("PKCS#7 encoding failed: {e}"),
        )
    })
}

/// The submit/renew answer: serial and delivery format, plus the certificate once issued.
pub fn enrollment_view(
    state: &AppState,
    profile: &Profile,
    record: &CertificateRecord,
) -> Result<Value, ApiError> {
    let mut view = Map::new();
    view.insert("serial_number".into(), json!(record.serial));
    view.insert("delivery_format".into(), json!(profile.delivery.name()));
    match &record.certificate {
        Some(cert) if record.state == RecordState::Issued => {
            view.insert(
                "certificate".into(),
                json!(delivered_certificate(state, profile, cert)?),
            );
        }
        _ => {
            view.insert("status".into(), json!(record.state.wire_name()));
        }
    }
    Ok(Value::Object(view))
}

pub fn additional_formats_view(state: &AppState, cert: &IssuedCertificate) -> Result<Value, ApiError> {
    let chain = [
        (cert_common_name(cert), cert.pem.clone()),
        (
            state.ca.intermediate.common_name.clone(),
            state.ca.intermediate.pem.clone(),
        ),
        (state.ca.root.common_name.clone(), state.ca.root.pem.clone()),
    ];
    Ok(json!({
        "pkcs7": pkcs7_pem(state, cert)?,
        "x509_cert_chain": chain
            .iter()
            .map(|(common_name, pem)| json!({"common_name": common_name, "cert_blob": pem}))
            .collect::<Vec<_>>(),
    }))
}

fn cert_common_name(cert: &IssuedCertificate) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    X509Certificate::from_der(&cert.der)
        .ok()
        .and_then(|(_, parsed)| {
            parsed
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(String::from)
        })
        .unwrap_or_default()
}
