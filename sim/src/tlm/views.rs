//! The JSON objects TLM answers with: certificate status (and search items), enrollment
//! results, additional formats, and the chains that go with them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::ca::CaCertificate;
use crate::certspotter::feed::rfc3339;
use crate::endpoints::Service;
use crate::errors::ApiError;
use crate::pkcs7;
use crate::profiles::{DeliveryFormat, Profile};
use crate::state::AppState;
use crate::tlm::store::{CertificateRecord, CertificateState};

/// The status object (`GET /certificate/{serial}`, and each search item). `certificate` is
/// base64 DER without PEM armour, as the spec's example shows it.
pub fn status_view(state: &AppState, record: &CertificateRecord, now: OffsetDateTime) -> Value {
    let order = &record.issued;
    let cert = &record.certificate;
    let profile_name = state
        .profile(record.profile_id)
        .map(|p| p.name)
        .unwrap_or_default();
    let mut view = Map::new();
    view.insert("serial_number".into(), json!(record.serial));
    view.insert("status".into(), json!(record.status(now)));
    view.insert("common_name".into(), json!(order.subject.common_name));
    view.insert("thumbprint".into(), json!(cert.thumbprint));
    view.insert("valid_from".into(), json!(rfc3339(cert.not_before)));
    view.insert("valid_to".into(), json!(rfc3339(cert.not_after)));
    view.insert(
        "profile".into(),
        json!({"id": record.profile_id, "name": profile_name}),
    );
    view.insert("seat".into(), json!({"seat_id": record.seat_id}));
    view.insert("subject".into(), json!(order.subject));
    view.insert("san".into(), json!(order.sans));
    view.insert("issuing_ca_name".into(), json!(state.ca.intermediate.common_name));
    view.insert("key_size".into(), json!(order.key.size_bits()));
    view.insert("signature_algorithm".into(), json!(order.key.algorithm_name()));
    view.insert("certificate".into(), json!(STANDARD.encode(&cert.der)));
    if let Some(renewal_of) = &record.renewal_of {
        view.insert("renewal_of".into(), json!(renewal_of));
    }
    let revocation = match &record.state {
        CertificateState::Revoked { reason, at } => Some((reason.as_str(), *at)),
        CertificateState::Suspended { at } => Some(("certificate_hold", *at)),
        CertificateState::Issued | CertificateState::Expired => None,
    };
    if let Some((reason, at)) = revocation {
        view.insert("revocation_reason".into(), json!(reason));
        view.insert(
            "revocation".into(),
            json!({"reason": reason, "revocation_date": rfc3339(at)}),
        );
    }
    Value::Object(view)
}

/// The intermediate served with this certificate: the real one, or the impostor under the
/// broken_chain fault.
fn intermediate<'a>(state: &'a AppState, record: &CertificateRecord) -> &'a CaCertificate {
    if record.broken_chain {
        &state.ca.impostor
    } else {
        &state.ca.intermediate
    }
}

/// The certificate as the profile delivers it: the leaf PEM (followed by the intermediate
/// with `include_ca_chain`), or a PKCS#7 bundle with leaf, intermediate and root.
pub fn delivered_certificate(
    state: &AppState,
    profile: &Profile,
    record: &CertificateRecord,
) -> Result<String, ApiError> {
    match profile.delivery {
        DeliveryFormat::X509 if record.include_ca_chain => Ok(format!(
            "{}{}",
            record.certificate.pem,
            intermediate(state, record).pem
        )),
        DeliveryFormat::X509 => Ok(record.certificate.pem.clone()),
        DeliveryFormat::Pkcs7 => pkcs7_pem(state, record),
    }
}

fn pkcs7_pem(state: &AppState, record: &CertificateRecord) -> Result<String, ApiError> {
    let chain = [
        record.certificate.der.as_slice(),
        &intermediate(state, record).der,
        &state.ca.root.der,
    ];
    pkcs7::certs_only_pem(&chain)
        .map_err(|e| ApiError::internal(Service::Tlm, format!("PKCS#7 encoding failed: {e}")))
}

/// The answer to an immediate submit, a renewal, and (with `request_id`, `status`) an issued
/// pickup.
pub fn enrollment_view(
    state: &AppState,
    profile: &Profile,
    record: &CertificateRecord,
) -> Result<Map<String, Value>, ApiError> {
    let mut view = Map::new();
    view.insert("serial_number".into(), json!(record.serial));
    view.insert("delivery_format".into(), json!(profile.delivery.name()));
    view.insert(
        "certificate".into(),
        json!(delivered_certificate(state, profile, record)?),
    );
    Ok(view)
}

pub fn additional_formats_view(state: &AppState, record: &CertificateRecord) -> Result<Value, ApiError> {
    let intermediate = intermediate(state, record);
    let chain = [
        (
            record.issued.subject.common_name.clone().unwrap_or_default(),
            record.certificate.pem.clone(),
        ),
        (intermediate.common_name.clone(), intermediate.pem.clone()),
        (state.ca.root.common_name.clone(), state.ca.root.pem.clone()),
    ];
    Ok(json!({
        "pkcs7": pkcs7_pem(state, record)?,
        "x509_cert_chain": chain
            .iter()
            .map(|(common_name, pem)| json!({"common_name": common_name, "cert_blob": pem}))
            .collect::<Vec<_>>(),
    }))
}
