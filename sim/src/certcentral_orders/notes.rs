//! `POST /order/certificate/{order_id}/note` (`{"text"}` -> 201 with the note) and
//! `GET /order/certificate/{order_id}/note` (`{"notes": [...]}`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::errors::ApiError;
use crate::state::{AppState, lock};

use super::auth::{authenticate, order_not_found, parse_id, require_json};
use super::body::{NoteBody, check_text, parse};
use super::store::Note;
use super::views::note_json;

pub async fn add_note(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    authenticate(&state, &headers)?;
    require_json(&headers)?;
    let id = parse_id("not_found|order", &id)?;
    let body: NoteBody = parse(&body)?;
    check_text("text", &body.text)?;
    let mut book = lock(&state.certcentral_orders);
    let note_id = book.fresh_id();
    let order = book.order_mut(id).ok_or_else(|| order_not_found(id))?;
    let note = Note {
        id: note_id,
        date_created: OffsetDateTime::now_utc(),
        text: body.text,
    };
    let answer = note_json(&note);
    order.notes.push(note);
    Ok((StatusCode::CREATED, Json(answer)))
}

pub async fn list_notes(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers)?;
    let id = parse_id("not_found|order", &id)?;
    let book = lock(&state.certcentral_orders);
    let order = book.order(id).ok_or_else(|| order_not_found(id))?;
    Ok(Json(
        json!({"notes": order.notes.iter().map(note_json).collect::<Vec<_>>()}),
    ))
}
