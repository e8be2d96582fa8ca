//! `POST .../enrollment/digicert/orders`: create an enrollment request, strictly. The fields are
//! the view page's input table; the sim refuses what a careful Qualys would (missing mandatory
//! fields, more or less than one validity, `autoGenerateCSR`, names the CSR does not carry, a CA
//! or organization the subscription does not have).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::checks::{check_intermediate, check_renewal, check_validity, known_fields, object, string_list};
use super::store::{Enrollment, LeafRequest, Status};
use super::{auth, error, invalid, missing};
use crate::csr::{KeyKind, verify_csr_text};
use crate::errors::ApiError;
use crate::faults::FaultTicket;
use crate::names::normalize_dns_name;
use crate::state::{AppState, lock};

const TOP: &[&str] = &[
    "approverUserNames",
    "requesterUserName",
    "intermediateCA",
    "certificate",
    "renewal",
    "validity",
    "digicertOrganizationId",
    "digicertProductNameId",
    "digicertEVApproverUserIds",
];
const PRODUCTS: &[&str] = &[
    "ssl_basic",
    "ssl_plus",
    "ssl_multi_domain",
    "ssl_wildcard",
    "ssl_ev_basic",
    "ssl_ev_plus",
    "ssl_ev_multi_domain",
    "private_ssl_plus",
    "private_ssl_wildcard",
];
const HASHES: &[&str] = &["SHA-256", "SHA-384", "SHA-512"];

pub async fn create(
    State(state): State<Arc<AppState>>,
    ticket: Option<Extension<FaultTicket>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = auth::authenticate(&state, &headers)?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, "140001", format!("Malformed json: {e}")))?;
    let Value::Object(body) = body else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "140001",
            "Malformed json: not an object",
        ));
    };
    let now = OffsetDateTime::now_utc();
    let mut enrollment = parse(&state, &user, &body, now)?;
    enrollment.faults = state.issuance_faults(ticket.as_ref().map(|Extension(t)| t));
    lock(&state.counters).order(&enrollment.leaf.spki_sha256);
    let uuid = enrollment.uuid.clone();
    lock(&state.qualys).add(enrollment);
    if !state.options.qualys.manual_approval {
        super::issue::approve(&state, &uuid)
            .map_err(|e| ApiError::internal(crate::endpoints::Service::Qualys, e.to_string()))?;
    }
    let view = super::views::view_of(&state, &uuid).ok_or_else(|| super::orders::not_found(&uuid))?;
    Ok((StatusCode::CREATED, Json(view)))
}

fn parse(
    state: &AppState,
    user: &str,
    body: &Map<String, Value>,
    now: OffsetDateTime,
) -> Result<Enrollment, ApiError> {
    known_fields("", body, TOP)?;
    let options = &state.options.qualys;
    let approvers = string_list(body, "approverUserNames")?.ok_or_else(|| missing("approverUserNames"))?;
    if approvers.is_empty() {
        return Err(missing("approverUserNames"));
    }
    if let Some(unknown) = approvers.iter().find(|a| !options.approvers.contains(a)) {
        return Err(invalid(
            "approverUserNames",
            format!("{unknown} is not a manager, PKI admin or approver"),
        ));
    }
    let requester = match body.get("requesterUserName") {
        None | Some(Value::Null) => user.to_string(),
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(invalid("requesterUserName", "not a string")),
    };
    check_intermediate(state, body.get("intermediateCA"))?;
    let organization_id = body
        .get("digicertOrganizationId")
        .ok_or_else(|| missing("digicertOrganizationId"))?
        .as_u64()
        .ok_or_else(|| invalid("digicertOrganizationId", "not a positive integer"))?;
    if !options.organization_ids.contains(&organization_id) {
        return Err(invalid(
            "digicertOrganizationId",
            format!("no DigiCert organization {organization_id}"),
        ));
    }
    let product = match body.get("digicertProductNameId") {
        None | Some(Value::Null) => return Err(missing("digicertProductNameId")),
        Some(Value::String(p)) if PRODUCTS.contains(&p.as_str()) => p.clone(),
        Some(other) => {
            return Err(invalid(
                "digicertProductNameId",
                format!("{other} is not a product name id"),
            ));
        }
    };
    let ev_approvers = body
        .get("digicertEVApproverUserIds")
        .filter(|v| !v.is_null())
        .cloned();
    let ev_given = ev_approvers
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if product.contains("_ev_") && !ev_given {
        return Err(missing("digicertEVApproverUserIds"));
    }
    let certificate = object(body, "certificate")?.ok_or_else(|| missing("certificate"))?;
    let (leaf, encoded_csr, dns_names) = check_certificate(certificate, &product, now)?;
    let signature_hash = match certificate.get("signatureHash") {
        Some(Value::String(h)) if HASHES.contains(&h.as_str()) => h.clone(),
        None | Some(Value::Null) => return Err(missing("certificate.signatureHash")),
        Some(other) => {
            return Err(invalid(
                "certificate.signatureHash",
                format!("{other} (SHA-256, SHA-384, SHA-512)"),
            ));
        }
    };
    let validity = object(body, "validity")?.ok_or_else(|| missing("validity"))?;
    let not_after = check_validity(validity, now)?;
    let renewal = check_renewal(state, body)?;
    let lifetime = options
        .leaf_lifetime
        .map(|d| Duration::seconds(d.as_secs().max(1) as i64));
    Ok(Enrollment {
        uuid: fresh_uuid(),
        requester,
        approvers,
        common_name: leaf.common_name.clone(),
        organization_units: leaf.organization_units.clone(),
        signature_hash,
        encoded_csr,
        dns_names,
        renewal,
        validity: Value::Object(validity.clone()),
        organization_id,
        product,
        ev_approvers,
        status: Status::Submitted,
        ca_status: String::new(),
        created: now,
        updated: now,
        leaf: LeafRequest {
            not_after: lifetime.map_or(not_after, |l| now + l),
            ..leaf
        },
        faults: Default::default(),
        issued: None,
    })
}

fn check_certificate(
    certificate: &Map<String, Value>,
    product: &str,
    now: OffsetDateTime,
) -> Result<(LeafRequest, String, Option<Vec<String>>), ApiError> {
    known_fields(
        "certificate.",
        certificate,
        &[
            "commonName",
            "csr",
            "organizationUnits",
            "signatureHash",
            "dnsNames",
        ],
    )?;
    let common_name = match certificate.get("commonName") {
        Some(Value::String(cn)) if !cn.trim().is_empty() => cn.clone(),
        _ => return Err(missing("certificate.commonName")),
    };
    let cn = normalize_dns_name(&common_name).ok_or_else(|| {
        invalid(
            "certificate.commonName",
            format!("{common_name} is not a DNS name"),
        )
    })?;
    if product.contains("wildcard") != cn.starts_with("*.") {
        return Err(invalid(
            "certificate.commonName",
            "a wildcard product needs a *. common name, and only a wildcard product takes one",
        ));
    }
    let csr = object(certificate, "csr")?.ok_or_else(|| missing("certificate.csr"))?;
    known_fields("certificate.csr.", csr, &["autoGenerateCSR", "encodedCSR"])?;
    let auto = match csr.get("autoGenerateCSR") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("certificate.csr.autoGenerateCSR", "not a boolean")),
    };
    let encoded = csr
        .get("encodedCSR")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty());
    let encoded = match (auto, encoded) {
        (true, Some(_)) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "1907",
                "Invalid value for the following param. autoGenerateCSR: , true and encoded CSR is not null.",
            ));
        }
        // Qualys would generate the key and return it; the sim never hands out private keys.
        (true, None) => {
            return Err(invalid(
                "certificate.csr.autoGenerateCSR",
                "the simulator only signs CSRs it is given",
            ));
        }
        (false, None) => return Err(missing("certificate.csr.encodedCSR")),
        (false, Some(e)) => e.to_string(),
    };
    let verified = verify_csr_text(&encoded).map_err(|e| invalid("certificate.csr.encodedCSR", e))?;
    let organization_units = string_list(certificate, "organizationUnits")?.unwrap_or_default();
    let dns_names = string_list(certificate, "dnsNames")?;
    let mut requested = vec![cn.clone()];
    for name in dns_names.iter().flatten() {
        let n = normalize_dns_name(name)
            .ok_or_else(|| invalid("certificate.dnsNames", format!("{name} is not a DNS name")))?;
        if !requested.contains(&n) {
            requested.push(n);
        }
    }
    let in_csr: Vec<String> = verified
        .common_name
        .iter()
        .chain(verified.sans.dns_names.iter())
        .filter_map(|n| normalize_dns_name(n))
        .collect();
    if let Some(absent) = requested.iter().find(|n| !in_csr.contains(n)) {
        return Err(invalid(
            "certificate.dnsNames",
            format!("{absent} is not in the CSR"),
        ));
    }
    if let Some(extra) = verified
        .sans
        .dns_names
        .iter()
        .filter_map(|n| normalize_dns_name(n))
        .find(|n| !requested.contains(n))
    {
        return Err(invalid(
            "certificate.dnsNames",
            format!("the CSR asks for {extra}, the request does not"),
        ));
    }
    let leaf = LeafRequest {
        public_key: verified.public_key,
        spki_sha256: verified.spki_sha256,
        rsa: matches!(verified.key, KeyKind::Rsa { .. }),
        common_name,
        organization_units,
        dns_names: requested,
        not_after: now,
    };
    Ok((leaf, encoded, dns_names))
}

fn fresh_uuid() -> String {
    let bytes = crate::ca::random_serial();
    let hex = hex::encode(&bytes[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
