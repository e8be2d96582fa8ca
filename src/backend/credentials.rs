//! Reading an issuer's credentials from its Secret. Errors name the Secret and key, never what
//! they hold.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

/// Why no client could be had. Messages name the Secret and key, never their contents.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("Secret {namespace}/{name} not found")]
    SecretNotFound { namespace: String, name: String },
    #[error("Secret {namespace}/{name} has no key {key:?}")]
    KeyNotFound {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("cannot read Secret {namespace}/{name}: {reason}")]
    Unreadable {
        namespace: String,
        name: String,
        reason: String,
    },
    #[error("{0}")]
    Client(String),
}

impl CredentialError {
    pub fn reason(&self) -> &'static str {
        match self {
            CredentialError::SecretNotFound { .. } => "SecretNotFound",
            CredentialError::KeyNotFound { .. } => "SecretKeyNotFound",
            CredentialError::Unreadable { .. } => "SecretUnreadable",
            CredentialError::Client(_) => "InvalidConfiguration",
        }
    }
}

/// The values of `keys` in Secret `namespace/name`, trimmed, in the order asked.
pub(super) async fn read_secret_keys(
    kube: &kube::Client,
    namespace: &str,
    name: &str,
    keys: &[&str],
) -> Result<Vec<String>, CredentialError> {
    let api: Api<Secret> = Api::namespaced(kube.clone(), namespace);
    let secret = match api.get_opt(name).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return Err(CredentialError::SecretNotFound {
                namespace: namespace.into(),
                name: name.into(),
            });
        }
        Err(e) => {
            return Err(CredentialError::Unreadable {
                namespace: namespace.into(),
                name: name.into(),
                reason: e.to_string(),
            });
        }
    };
    keys.iter()
        .map(|key| {
            secret
                .data
                .as_ref()
                .and_then(|d| d.get(*key))
                .map(|ByteString(b)| String::from_utf8_lossy(b).trim().to_string())
                .or_else(|| {
                    secret
                        .string_data
                        .as_ref()
                        .and_then(|d| d.get(*key))
                        .map(|v| v.trim().to_string())
                })
                .filter(|v| !v.is_empty())
                .ok_or_else(|| CredentialError::KeyNotFound {
                    namespace: namespace.into(),
                    name: name.into(),
                    key: (*key).into(),
                })
        })
        .collect()
}
