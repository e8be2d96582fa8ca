//! The one way the typed clients (TLM, CertCentral orders, Qualys) make their [`ServiceClient`],
//! and the constructor and budget accessors every one of them offers.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::ServiceClient;
use crate::clients::RequestObserver;
use crate::clients::error::ServiceError;
use crate::clients::http::HttpSettings;
use crate::clients::retry::RetryPolicy;
use crate::clients::throttle::Throttle;

/// A [`ServiceClient`] being described: where the service lives, its credential header, and
/// the budget it spends (its own, or one shared with other clients of the same account).
pub struct ServiceClientBuilder<'a> {
    service: &'static str,
    base_url: String,
    http: &'a HttpSettings,
    retry: RetryPolicy,
    auth: Option<(&'static str, &'a SecretString)>,
    shared_throttle: Option<Arc<Throttle>>,
}

impl<'a> ServiceClientBuilder<'a> {
    pub fn new(
        service: &'static str,
        base_url: impl Into<String>,
        http: &'a HttpSettings,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            service,
            base_url: base_url.into(),
            http,
            retry,
            auth: None,
            shared_throttle: None,
        }
    }

    /// Every request carries `header: secret`, a header hyper never prints.
    pub fn auth(self, header: &'static str, secret: &'a SecretString) -> Self {
        Self {
            auth: Some((header, secret)),
            ..self
        }
    }

    /// Spend this budget, shared with other clients of the same account, if there is one.
    pub fn shared_throttle(self, throttle: Option<Arc<Throttle>>) -> Self {
        Self {
            shared_throttle: throttle,
            ..self
        }
    }

    /// `own_throttle` makes the client's own budget when none is shared; it is a closure so a
    /// shared budget costs no second rate limiter.
    pub fn build(
        self,
        observer: Arc<dyn RequestObserver>,
        own_throttle: impl FnOnce() -> Throttle,
    ) -> Result<ServiceClient, ServiceError> {
        let throttle = self.shared_throttle.unwrap_or_else(|| Arc::new(own_throttle()));
        let auth = self.auth.map(|(header, secret)| (header, secret.expose_secret()));
        ServiceClient::new(
            self.service,
            &self.base_url,
            auth,
            self.http,
            throttle,
            self.retry,
            observer,
        )
    }
}

/// Gives a typed client `new`, `for_tenant` and `held_for`. The client must be `Clone`, keep its
/// [`ServiceClient`] in a field named `service`, and have `with_observer(config, observer)`.
/// A macro rather than a trait so callers need no extra import to call them.
macro_rules! typed_client_basics {
    ($client:ty, $config:ty) => {
        impl $client {
            pub fn new(config: $config) -> Result<Self, $crate::clients::error::ServiceError> {
                Self::with_observer(config, std::sync::Arc::new($crate::clients::NoObserver))
            }

            /// The same client, credentials and budget, its requests counted against `tenant`
            /// when the budget is shared out.
            pub fn for_tenant(&self, tenant: $crate::clients::fair_turns::Tenant) -> Self {
                let mut client = self.clone();
                client.service = self.service.for_tenant(tenant);
                client
            }

            /// Time left before the service's last `Retry-After` (or 429 hold) expires, if any.
            pub fn held_for(&self) -> Option<std::time::Duration> {
                self.service.throttle().held_for()
            }
        }
    };
}
pub(crate) use typed_client_basics;
