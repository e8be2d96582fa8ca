//! Why a group's poll failed, as a condition reason and message.

use crate::clients::error::{ErrorClass, ServiceError};

use super::wait::ServiceWait;

pub struct CycleError {
    pub reason: &'static str,
    pub message: String,
    /// What the source asked to wait, already clamped.
    pub retry_after: ServiceWait,
}

impl CycleError {
    pub fn new(reason: &'static str, message: String) -> Self {
        Self {
            reason,
            message,
            retry_after: ServiceWait::default(),
        }
    }

    pub fn from_service(e: &ServiceError) -> Self {
        let reason = match (e.class(), e.status()) {
            (_, Some(429)) => "QuotaExceeded",
            (ErrorClass::Auth, _) => "Unauthorized",
            (ErrorClass::Transient, _) => "Unreachable",
            (ErrorClass::InvalidInput, _) => "InvalidQuery",
            (ErrorClass::UnexpectedBody, _) => "UnexpectedResponse",
            _ => "SourceError",
        };
        Self {
            reason,
            message: e.to_string(),
            retry_after: ServiceWait::clamp(e.retry_after()),
        }
    }

    /// The message with a note when the source's wait was clamped.
    pub fn full_message(&self) -> String {
        match self.retry_after.clamp_note() {
            Some(note) => format!("{}; {note}", self.message),
            None => self.message.clone(),
        }
    }
}
