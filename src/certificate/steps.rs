//! Performing one step of the lifecycle. Each step makes at most one write that matters for
//! crash safety and updates the observation with what the API server returned.

use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

use super::decide::{ConditionSpec, IssueReason, StatusChange, failure_backoff, poll_interval};
use super::observe::{IssuerRefd, Observation};
use super::observed::TargetSecret;
use super::recover::find_order_for_key;
use super::renewal::renewal_time;
use super::request::{renew_request, submit_request};
use super::secret::{fresh_next_key_name, next_key_secret, target_secret};
use super::spec::{DesiredNames, csr_request, request_common_name};
use super::status::{event, reason_of, set_condition, write_status};
use super::{Flow, ReconcileError};
use crate::api::{ISSUING, PendingRequest, READY, conditions};
use crate::clients::error::{ErrorClass, ServiceError};
use crate::clients::tlm::TlmClient;
use crate::clients::tlm_types::{CertStatus, IssueResponse};
use crate::context::Context;
use crate::crash;
use crate::labels::{FIELD_MANAGER, SERIAL_NUMBER};
use crate::pki::{
    CertDer, LeafInfo, PrivateKey, build_csr_pem, certs_from_delivery, certs_from_pem, order_chain,
    verify_chain,
};

fn now() -> Timestamp {
    Timestamp::now()
}

fn secrets(ctx: &Context, obs: &Observation) -> Api<Secret> {
    Api::namespaced(ctx.client.clone(), &obs.cert.namespace().unwrap_or_default())
}

fn generation(obs: &Observation) -> Option<i64> {
    obs.cert.metadata.generation
}

/// Status conditions only (and, when the Secret is up to date, the certificate's facts).
pub async fn sync_status(
    ctx: &Context,
    obs: &mut Observation,
    change: &StatusChange,
) -> Result<Flow, ReconcileError> {
    let leaf = obs.target().and_then(|t| t.matched_leaf().cloned());
    let spec = obs.cert.spec.clone();
    let gen_ = generation(obs);
    write_status(ctx, obs, |s| {
        set_condition(s, READY, &change.ready, gen_);
        match &change.issuing {
            Some(issuing) => set_condition(s, ISSUING, issuing, gen_),
            None => {
                if conditions::is_true(&s.conditions, ISSUING) {
                    set_condition(
                        s,
                        ISSUING,
                        &ConditionSpec::new(false, "Issued", "No issuance in progress"),
                        gen_,
                    );
                }
            }
        }
        if change.ready.status
            && change.issuing.is_none()
            && let Some(leaf) = &leaf
        {
            s.serial_number = Some(leaf.serial_hex.clone());
            s.thumbprint = Some(leaf.thumbprint_sha256.clone());
            s.not_before = Some(Time(leaf.not_before));
            s.not_after = Some(Time(leaf.not_after));
            s.renewal_time = Some(Time(renewal_time(&spec, leaf.not_before, leaf.not_after)));
            s.observed_generation = gen_;
            s.failed_issuance_attempts = None;
            s.last_failure_time = None;
        }
    })
    .await?;
    Ok(Flow::Continue)
}

/// Reports a missing or unready issuer: one status write and one Event per change of reason.
pub async fn wait_for_issuer(
    ctx: &Context,
    obs: &mut Observation,
    change: &StatusChange,
) -> Result<Flow, ReconcileError> {
    let before = reason_of(&obs.cert, ISSUING);
    let gen_ = generation(obs);
    write_status(ctx, obs, |s| {
        set_condition(s, READY, &change.ready, gen_);
        if let Some(issuing) = &change.issuing {
            set_condition(s, ISSUING, issuing, gen_);
        }
    })
    .await?;
    if before.as_deref() != Some("IssuerNotReady") {
        let note = change
            .issuing
            .as_ref()
            .map(|c| c.message.clone())
            .unwrap_or_default();
        event(ctx, &obs.cert, true, "IssuerNotReady", note).await;
    }
    Ok(Flow::Requeue(change.requeue_after))
}

/// Records why an issuance starts and the name its key will have, before the key exists.
pub async fn begin_issuance(
    ctx: &Context,
    obs: &mut Observation,
    reason: &IssueReason,
) -> Result<Flow, ReconcileError> {
    let name = fresh_next_key_name(&obs.cert.name_any());
    let message = reason.message(&obs.cert.spec.secret_name);
    let gen_ = generation(obs);
    let keeps_serving = reason.keeps_serving();
    write_status(ctx, obs, |s| {
        s.next_private_key_secret_name = Some(name.clone());
        s.pending_request = None;
        s.observed_generation = gen_;
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(true, reason.reason(), message.clone()),
            gen_,
        );
        if !keeps_serving {
            set_condition(
                s,
                READY,
                &ConditionSpec::new(false, reason.reason(), message.clone()),
                gen_,
            );
        }
    })
    .await?;
    tracing::info!(certificate = %obs.cert.name_any(), reason = reason.reason(), next_key = %name, "issuance started");
    crash::point("after-begin");
    Ok(Flow::Continue)
}

/// Creates the next-key Secret named in status (generating a key, or copying the current one).
pub async fn create_next_key(
    ctx: &Context,
    obs: &mut Observation,
    name: &str,
    reuse_current_key: bool,
) -> Result<Flow, ReconcileError> {
    let key = if reuse_current_key {
        key_in(obs.secret.as_ref())?
    } else {
        let pk = obs.cert.spec.private_key.clone();
        if pk.algorithm == crate::api::KeyAlgorithm::RSA {
            // RSA 4096 takes about a second: keep it off the async workers.
            tokio::task::spawn_blocking(move || PrivateKey::generate(pk.algorithm, pk.size))
                .await
                .map_err(|e| ReconcileError::Internal(e.to_string()))?
                .map_err(ReconcileError::Pki)?
        } else {
            // EC and Ed25519 keys take microseconds; a thread hop would cost more.
            PrivateKey::generate(pk.algorithm, pk.size).map_err(ReconcileError::Pki)?
        }
    };
    let api = secrets(ctx, obs);
    let created = match api
        .create(&PostParams::default(), &next_key_secret(&obs.cert, name, &key))
        .await
    {
        Ok(secret) => {
            let spki = key.spki_sha256_hex();
            ctx.memory.update(&obs.uid(), |m| {
                m.key_created_here = Some(spki);
                m.maybe_submitted = false;
            });
            let note = if reuse_current_key {
                format!("Copied the current private key into temporary Secret {name} (rotationPolicy: Never)")
            } else {
                format!("Stored new private key in temporary Secret {name}")
            };
            event(ctx, &obs.cert, false, "Generated", note).await;
            secret
        }
        // Created by an earlier attempt whose answer we did not see: use it as it is.
        Err(kube::Error::Api(e)) if e.code == 409 => api.get(name).await?,
        Err(e) => return Err(e.into()),
    };
    obs.next_key = Some(created);
    crash::point("after-key");
    Ok(Flow::Continue)
}

/// Deletes a next key that no longer fits and forgets the request made with it.
pub async fn discard_next_key(
    ctx: &Context,
    obs: &mut Observation,
    name: &str,
) -> Result<Flow, ReconcileError> {
    delete_secret(ctx, obs, name).await?;
    obs.next_key = None;
    write_status(ctx, obs, |s| {
        s.next_private_key_secret_name = None;
        s.pending_request = None;
    })
    .await?;
    Ok(Flow::Continue)
}

async fn delete_secret(ctx: &Context, obs: &Observation, name: &str) -> Result<(), kube::Error> {
    match secrets(ctx, obs).delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

fn next_private_key(obs: &Observation) -> Result<PrivateKey, ReconcileError> {
    key_in(obs.next_key.as_ref())
}

/// One data item of a Secret as text (empty when absent).
fn secret_text(secret: Option<&Secret>, item: &str) -> String {
    secret
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get(item))
        .map(|ByteString(b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The private key (`tls.key`) a Secret holds.
fn key_in(secret: Option<&Secret>) -> Result<PrivateKey, ReconcileError> {
    PrivateKey::from_pem(&secret_text(secret, "tls.key")).map_err(ReconcileError::Pki)
}

async fn client_for(ctx: &Context, issuer: &IssuerRefd) -> Result<TlmClient, ReconcileError> {
    ctx.registry
        .client(&ctx.client, &issuer.key, &issuer.tlm)
        .await
        .map_err(ReconcileError::Credentials)
}

fn pending(
    serial: Option<String>,
    pickup: Option<String>,
    key: &PrivateKey,
    generation: i64,
) -> PendingRequest {
    PendingRequest {
        serial_number: serial,
        pickup_request_id: pickup,
        public_key_sha256: key.spki_sha256_hex(),
        generation,
        submitted_at: Time(now()),
        polls: 0,
    }
}

/// Orders the certificate (or renews the old one). Before ordering with a key this process did
/// not just create, or after a submit whose outcome is unknown, it looks for an earlier order.
pub async fn submit(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    renew_serial: Option<String>,
) -> Result<Flow, ReconcileError> {
    let client = client_for(ctx, issuer).await?;
    let key = next_private_key(obs)?;
    let uid = obs.uid();
    let gen_ = generation(obs).unwrap_or_default();
    let memory = ctx.memory.get(&uid);
    let known_unused =
        memory.key_created_here.as_deref() == Some(key.spki_sha256_hex().as_str()) && !memory.maybe_submitted;
    if !known_unused {
        let cn = request_common_name(&obs.cert.spec);
        let current = obs.target().and_then(|t| t.matched_leaf().map(|l| l.not_before));
        match find_order_for_key(&client, &issuer.tlm.profile_id, cn, &key, current).await {
            Ok(Some(serial)) => {
                tracing::info!(certificate = %obs.cert.name_any(), %serial, "found an earlier order for this key; not ordering again");
                let request = pending(Some(serial), None, &key, gen_);
                write_status(ctx, obs, |s| s.pending_request = Some(request)).await?;
                ctx.memory.update(&uid, |m| m.maybe_submitted = false);
                return Ok(Flow::Continue);
            }
            Ok(None) => {}
            Err(e) => return on_tlm_error(ctx, obs, issuer, e).await,
        }
    }

    let csr = build_csr_pem(&csr_request(&obs.cert.spec), &key).map_err(ReconcileError::Pki)?;
    ctx.memory.update(&uid, |m| m.maybe_submitted = true);
    let response = match &renew_serial {
        Some(serial) => match client
            .renew(serial, &renew_request(&obs.cert.spec, &issuer.tlm, csr.clone()))
            .await
        {
            Ok(r) => Ok(r),
            // Not renewable after all (revoked, outside the window...): order anew.
            Err(e)
                if matches!(
                    e.class(),
                    ErrorClass::InvalidInput | ErrorClass::NotFound | ErrorClass::Conflict
                ) =>
            {
                tracing::info!(error = %e, "renew refused; submitting a new request instead");
                client
                    .submit(&submit_request(&obs.cert.spec, &issuer.tlm, csr))
                    .await
            }
            Err(e) => Err(e),
        },
        None => {
            client
                .submit(&submit_request(&obs.cert.spec, &issuer.tlm, csr))
                .await
        }
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            if e.request_not_processed() {
                ctx.memory.update(&uid, |m| m.maybe_submitted = false);
            }
            return on_tlm_error(ctx, obs, issuer, e).await;
        }
    };
    crash::point("after-submit");
    let IssueResponse {
        serial_number,
        request_id,
        certificate,
        status,
        ..
    } = response;
    if serial_number.is_none() && request_id.is_none() {
        let e = ServiceError::UnexpectedBody {
            service: "TLM",
            endpoint: "submit",
            reason: "neither serial_number nor request_id".into(),
        };
        return on_tlm_error(ctx, obs, issuer, e).await;
    }
    let what = if renew_serial.is_some() {
        "Renewal requested"
    } else {
        "Requested"
    };
    let id = serial_number.clone().or(request_id.clone()).unwrap_or_default();
    event(
        ctx,
        &obs.cert,
        false,
        "Requested",
        format!("{what} from TLM profile {} (serial {id})", issuer.tlm.profile_id),
    )
    .await;
    let issued_now = certificate.is_some()
        && status
            .as_deref()
            .is_none_or(|s| CertStatus::parse(s) == CertStatus::Issued);
    if let (Some(serial), Some(text), true) = (&serial_number, &certificate, issued_now) {
        // Issued at once: the Secret (annotated with the serial) is the durable record.
        return complete(ctx, obs, issuer, &client, serial, Some(text.clone())).await;
    }
    let request = pending(serial_number, request_id, &key, gen_);
    write_status(ctx, obs, |s| s.pending_request = Some(request)).await?;
    ctx.memory.update(&uid, |m| m.maybe_submitted = false);
    Ok(Flow::Continue)
}

/// Asks TLM about a pending request.
pub async fn poll(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    serial: &str,
) -> Result<Flow, ReconcileError> {
    let client = client_for(ctx, issuer).await?;
    ctx.memory.update(&obs.uid(), |m| m.last_poll = Some(now()));
    let record = match client.status(serial).await {
        Ok(r) => r,
        Err(e) => return on_tlm_error(ctx, obs, issuer, e).await,
    };
    match record.cert_status() {
        CertStatus::Issued => complete(ctx, obs, issuer, &client, serial, record.certificate).await,
        CertStatus::Rejected => {
            fail(
                ctx,
                obs,
                "Rejected",
                format!("TLM rejected the request (serial {serial})"),
            )
            .await
        }
        CertStatus::Revoked => {
            fail(
                ctx,
                obs,
                "Revoked",
                format!("TLM revoked the certificate (serial {serial}) before it was delivered"),
            )
            .await
        }
        other => {
            if let CertStatus::Other(value) = &other {
                tracing::warn!(%serial, status = %value, "unknown TLM status; treating it as pending");
            }
            still_pending(ctx, obs, serial).await
        }
    }
}

/// Fetches a certificate issued through a pickup request.
pub async fn pickup(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    request_id: &str,
) -> Result<Flow, ReconcileError> {
    let client = client_for(ctx, issuer).await?;
    ctx.memory.update(&obs.uid(), |m| m.last_poll = Some(now()));
    let response = match client.pickup(request_id).await {
        Ok(r) => r,
        Err(e) => return on_tlm_error(ctx, obs, issuer, e).await,
    };
    match (response.serial_number, response.certificate) {
        (Some(serial), Some(text)) => complete(ctx, obs, issuer, &client, &serial, Some(text)).await,
        _ => still_pending(ctx, obs, request_id).await,
    }
}

async fn still_pending(ctx: &Context, obs: &mut Observation, id: &str) -> Result<Flow, ReconcileError> {
    let first_time = reason_of(&obs.cert, ISSUING).as_deref() != Some("Pending");
    let gen_ = generation(obs);
    let message = format!("Waiting for TLM to issue request {id} (approval pending)");
    write_status(ctx, obs, |s| {
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(true, "Pending", message.clone()),
            gen_,
        )
    })
    .await?;
    if first_time {
        event(ctx, &obs.cert, false, "Pending", message).await;
    }
    let submitted = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| s.pending_request.as_ref())
        .map(|p| p.submitted_at.0);
    let age = submitted.map_or(Duration::ZERO, |t| {
        Duration::try_from(now().duration_since(t)).unwrap_or_default()
    });
    Ok(Flow::Requeue(poll_interval(age)))
}

/// Fetches the chain, verifies it against our key and the spec, and writes the Secret.
async fn complete(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    client: &TlmClient,
    serial: &str,
    delivered: Option<String>,
) -> Result<Flow, ReconcileError> {
    let key = next_private_key(obs)?;
    let mut certs: Vec<CertDer> = Vec::new();
    match client.additional_formats(serial).await {
        Ok(formats) => {
            for entry in &formats.x509_cert_chain {
                match certs_from_pem(&entry.cert_blob) {
                    Ok(found) => certs.extend(found),
                    Err(e) => {
                        return fail(
                            ctx,
                            obs,
                            "InvalidChain",
                            format!("TLM returned an unreadable chain: {e}"),
                        )
                        .await;
                    }
                }
            }
            if certs.is_empty()
                && let Some(p7) = &formats.pkcs7
            {
                match certs_from_delivery(p7) {
                    Ok(found) => certs.extend(found),
                    Err(e) => {
                        return fail(
                            ctx,
                            obs,
                            "InvalidChain",
                            format!("TLM returned an unreadable PKCS#7: {e}"),
                        )
                        .await;
                    }
                }
            }
        }
        // Without the extra formats the delivered certificate may still carry the chain.
        Err(e) if delivered.is_some() && !matches!(e.class(), ErrorClass::Transient | ErrorClass::Auth) => {
            tracing::warn!(error = %e, "additional formats unavailable; using the delivered certificate");
        }
        Err(e) => return on_tlm_error(ctx, obs, issuer, e).await,
    }
    if let Some(text) = &delivered {
        match certs_from_delivery(text) {
            Ok(found) => certs.extend(
                found
                    .into_iter()
                    .filter(|c| !certs.contains(c))
                    .collect::<Vec<_>>(),
            ),
            Err(e) if certs.is_empty() => {
                return fail(
                    ctx,
                    obs,
                    "InvalidCertificate",
                    format!("TLM delivered an unreadable certificate: {e}"),
                )
                .await;
            }
            Err(_) => {}
        }
    }
    let chain = match order_chain(&certs, Some(&key.spki_der())) {
        Ok(chain) => chain,
        Err(e) => {
            return fail(
                ctx,
                obs,
                "KeyMismatch",
                format!("issued certificate {serial} is unusable: {e}"),
            )
            .await;
        }
    };
    if let Err(e) = verify_chain(&chain) {
        return fail(
            ctx,
            obs,
            "InvalidChain",
            format!("chain of certificate {serial} does not verify: {e}"),
        )
        .await;
    }
    let leaf = match LeafInfo::parse(&chain[0]) {
        Ok(leaf) => leaf,
        Err(e) => return fail(ctx, obs, "InvalidCertificate", e.to_string()).await,
    };
    if let Some(why) = DesiredNames::of(&obs.cert.spec).mismatch(&leaf) {
        return fail(
            ctx,
            obs,
            "CertificateMismatch",
            format!("TLM issued certificate {serial} whose {why}"),
        )
        .await;
    }
    let secret = target_secret(&obs.cert, &key, &chain, &leaf).map_err(ReconcileError::Pki)?;
    let applied = secrets(ctx, obs)
        .patch(
            &obs.cert.spec.secret_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    obs.secret = Some(applied);
    ctx.memory.update(&obs.uid(), |m| {
        m.maybe_submitted = false;
        m.delivered = None;
    });
    tracing::info!(certificate = %obs.cert.name_any(), serial = %leaf.serial_hex, "certificate written to Secret");
    crash::point("after-secret");
    Ok(Flow::Continue)
}

/// The Secret holds the new certificate: delete the next key, then record success.
pub async fn finalize(ctx: &Context, obs: &mut Observation) -> Result<Flow, ReconcileError> {
    if let Some(name) = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| s.next_private_key_secret_name.clone())
    {
        delete_secret(ctx, obs, &name).await?;
        obs.next_key = None;
    }
    let Some(leaf) = obs.target().and_then(|t| t.matched_leaf().cloned()) else {
        return Ok(Flow::Continue);
    };
    let why = reason_of(&obs.cert, ISSUING).unwrap_or_default();
    let started = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, ISSUING))
        .map(|c| c.last_transition_time.0);
    let spec = obs.cert.spec.clone();
    let gen_ = generation(obs);
    let message = format!("Certificate issued (serial {})", leaf.serial_hex);
    write_status(ctx, obs, |s| {
        s.revision = Some(s.revision.unwrap_or(0) + 1);
        s.serial_number = Some(leaf.serial_hex.clone());
        s.thumbprint = Some(leaf.thumbprint_sha256.clone());
        s.not_before = Some(Time(leaf.not_before));
        s.not_after = Some(Time(leaf.not_after));
        s.renewal_time = Some(Time(renewal_time(&spec, leaf.not_before, leaf.not_after)));
        s.next_private_key_secret_name = None;
        s.pending_request = None;
        s.failed_issuance_attempts = None;
        s.last_failure_time = None;
        s.observed_generation = gen_;
        set_condition(
            s,
            READY,
            &ConditionSpec::new(true, "Ready", "Certificate is up to date and has not expired"),
            gen_,
        );
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(false, "Issued", message.clone()),
            gen_,
        );
    })
    .await?;
    if let Some(started) = started {
        let secs = Duration::try_from(now().duration_since(started))
            .unwrap_or_default()
            .as_secs_f64();
        ctx.metrics.issuance_seconds.observe(secs);
    }
    let revision = obs.cert.status.as_ref().and_then(|s| s.revision).unwrap_or(1);
    let reason = match (revision, why.as_str()) {
        (1, _) => "Issued",
        (_, "Renewing" | "Expired") => "Renewed",
        _ => "Reissued",
    };
    let note = format!("{reason}: serial {}, revision {revision}", leaf.serial_hex);
    event(ctx, &obs.cert, false, reason, note).await;
    ctx.memory.forget(&obs.uid());
    Ok(Flow::Continue)
}

/// Drops issuance state that no longer belongs to anything.
pub async fn cleanup(ctx: &Context, obs: &mut Observation) -> Result<Flow, ReconcileError> {
    if let Some(name) = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| s.next_private_key_secret_name.clone())
    {
        delete_secret(ctx, obs, &name).await?;
        obs.next_key = None;
    }
    write_status(ctx, obs, |s| {
        s.next_private_key_secret_name = None;
        s.pending_request = None;
    })
    .await?;
    ctx.memory.forget(&obs.uid());
    Ok(Flow::Continue)
}

/// Rewrites the Secret from its own key and certificate (labels, annotations, extra formats).
pub async fn repair_secret(
    ctx: &Context,
    obs: &mut Observation,
    issuer: Result<&IssuerRefd, &super::observed::IssuerView>,
) -> Result<Flow, ReconcileError> {
    let Some(secret) = obs.secret.clone() else {
        return Ok(Flow::Continue);
    };
    let text = |k: &str| secret_text(Some(&secret), k);
    let key = key_in(Some(&secret))?;
    let mut certs = certs_from_pem(&text("tls.crt")).map_err(ReconcileError::Pki)?;
    match certs_from_pem(&text("ca.crt")) {
        Ok(ca) => certs.extend(ca),
        Err(_) => {
            // ca.crt is gone: the root comes from TLM.
            let Ok(issuer) = issuer else {
                return Ok(Flow::Requeue(Duration::from_secs(300)));
            };
            let serial = TargetSecret::parse(&secret)
                .annotation(SERIAL_NUMBER)
                .map(str::to_string)
                .unwrap_or_default();
            let client = client_for(ctx, issuer).await?;
            match client.additional_formats(&serial).await {
                Ok(f) => {
                    for entry in f.x509_cert_chain {
                        certs.extend(certs_from_pem(&entry.cert_blob).unwrap_or_default());
                    }
                }
                Err(e) => return on_tlm_error(ctx, obs, issuer, e).await,
            }
        }
    }
    let mut unique: Vec<CertDer> = Vec::new();
    for c in certs {
        if !unique.contains(&c) {
            unique.push(c);
        }
    }
    let chain = order_chain(&unique, Some(&key.spki_der())).map_err(ReconcileError::Pki)?;
    verify_chain(&chain).map_err(ReconcileError::Pki)?;
    let leaf = LeafInfo::parse(&chain[0]).map_err(ReconcileError::Pki)?;
    let desired = target_secret(&obs.cert, &key, &chain, &leaf).map_err(ReconcileError::Pki)?;
    let applied = secrets(ctx, obs)
        .patch(
            &obs.cert.spec.secret_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&desired),
        )
        .await?;
    obs.secret = Some(applied);
    Ok(Flow::Continue)
}

/// A permanent failure of this issuance: count it, report it, back off.
pub async fn fail(
    ctx: &Context,
    obs: &mut Observation,
    reason: &str,
    message: String,
) -> Result<Flow, ReconcileError> {
    let gen_ = generation(obs);
    let attempts = obs
        .cert
        .status
        .as_ref()
        .and_then(|s| s.failed_issuance_attempts)
        .unwrap_or(0)
        + 1;
    let backoff = failure_backoff(attempts as u32);
    let serving = obs
        .target()
        .and_then(|t| t.matched_leaf().cloned())
        .is_some_and(|l| l.not_after > now());
    let note = format!("{message}; next attempt in {}s", backoff.as_secs());
    write_status(ctx, obs, |s| {
        s.failed_issuance_attempts = Some(attempts);
        s.last_failure_time = Some(Time(now()));
        s.observed_generation = gen_;
        s.pending_request = None;
        set_condition(
            s,
            ISSUING,
            &ConditionSpec::new(false, "Failed", format!("{reason}: {note}")),
            gen_,
        );
        if !serving {
            set_condition(
                s,
                READY,
                &ConditionSpec::new(false, reason, message.clone()),
                gen_,
            );
        }
    })
    .await?;
    event(ctx, &obs.cert, true, reason, note).await;
    ctx.metrics.reconcile_failed(super::CONTROLLER, reason);
    Ok(Flow::Requeue(backoff))
}

/// Routes a TLM error: permanent ones fail the issuance, the rest are reported once and retried.
async fn on_tlm_error(
    ctx: &Context,
    obs: &mut Observation,
    issuer: &IssuerRefd,
    e: ServiceError,
) -> Result<Flow, ReconcileError> {
    match e.class() {
        ErrorClass::InvalidInput | ErrorClass::Conflict | ErrorClass::NotFound | ErrorClass::Config => {
            fail(ctx, obs, e.reason(), e.to_string()).await
        }
        ErrorClass::Auth => {
            ctx.registry.invalidate(&issuer.key);
            note_retrying(ctx, obs, e.reason(), &e.to_string()).await?;
            Ok(Flow::Requeue(Duration::from_secs(30)))
        }
        ErrorClass::Transient | ErrorClass::UnexpectedBody => {
            note_retrying(ctx, obs, e.reason(), &e.to_string()).await?;
            Err(ReconcileError::Tlm(e))
        }
    }
}

/// Shows a retried failure in the Issuing condition and an Event, once per change of reason.
async fn note_retrying(
    ctx: &Context,
    obs: &mut Observation,
    reason: &str,
    message: &str,
) -> Result<(), ReconcileError> {
    if reason_of(&obs.cert, ISSUING).as_deref() == Some(reason) {
        return Ok(());
    }
    let gen_ = generation(obs);
    let text = format!("{message}; retrying");
    write_status(ctx, obs, |s| {
        set_condition(s, ISSUING, &ConditionSpec::new(true, reason, text.clone()), gen_)
    })
    .await?;
    event(ctx, &obs.cert, true, reason, text).await;
    Ok(())
}
