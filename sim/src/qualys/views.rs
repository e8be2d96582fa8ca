//! The view page's response body, field for field as its sample shows it.

use serde_json::{Value, json};

use super::times;
use crate::state::{AppState, lock};

pub fn view_of(state: &AppState, uuid: &str) -> Option<Value> {
    let ca = super::issue::intermediate_identity(state);
    let book = lock(&state.qualys);
    let e = book.get(uuid)?;
    Some(json!({
        "uuid": e.uuid,
        "intermediateCA": {"name": ca.name, "certhash": ca.certhash},
        "approverUserNames": e.approvers,
        "requesterUserName": e.requester,
        "certificate": {
            "commonName": e.common_name,
            "organizationUnits": e.organization_units,
            "signatureHash": e.signature_hash,
            "encodedCSR": e.encoded_csr,
            "privateKey": null,
            "dnsNames": e.dns_names,
        },
        "renewal": e.renewal,
        "validity": {
            "validityYears": e.validity.get("validityYears").cloned().unwrap_or(Value::Null),
            "validityDays": e.validity.get("validityDays").cloned().unwrap_or(Value::Null),
            "customExpirationDate": e.validity.get("customExpirationDate").cloned().unwrap_or(Value::Null),
        },
        "digicertOrganization": {"id": e.organization_id},
        "digicertProductNameId": e.product,
        "digicertEVApproverUserIds": e.ev_approvers,
        "status": e.status.wire_name(),
        "caStatus": e.ca_status,
        "created": times::format(e.created),
        "updated": times::format(e.updated),
    }))
}
