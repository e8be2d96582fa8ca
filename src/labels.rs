//! Labels and annotations the operator puts on the objects it owns.

/// On every Secret the operator owns; the Secret watch selects on it, so the cache never holds
/// anyone else's Secrets.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "tlm-operator";
/// `MANAGED_BY=MANAGED_BY_VALUE`, as a label selector.
pub const OWNED_SECRET_SELECTOR: &str = "app.kubernetes.io/managed-by=tlm-operator";

/// Name of the Certificate a Secret belongs to (target and next-key Secrets).
pub const CERTIFICATE_NAME: &str = "tlm.certops.dev/certificate-name";
/// Marks a next-private-key Secret.
pub const NEXT_PRIVATE_KEY: &str = "tlm.certops.dev/next-private-key";

// Annotations on the target Secret, in the spirit of cert-manager's `cert-manager.io/*`.
pub const ISSUER_NAME: &str = "tlm.certops.dev/issuer-name";
pub const ISSUER_KIND: &str = "tlm.certops.dev/issuer-kind";
pub const SERIAL_NUMBER: &str = "tlm.certops.dev/serial-number";
pub const COMMON_NAME: &str = "tlm.certops.dev/common-name";
pub const ALT_NAMES: &str = "tlm.certops.dev/alt-names";
pub const IP_SANS: &str = "tlm.certops.dev/ip-sans";
pub const URI_SANS: &str = "tlm.certops.dev/uri-sans";
pub const EMAIL_SANS: &str = "tlm.certops.dev/email-sans";
/// Hash of the spec fields that shaped the certificate; a change means re-issue.
pub const REQUEST_HASH: &str = "tlm.certops.dev/request-hash";

/// Put on an existing Secret by its owner to let the named Certificate write it; without it
/// the operator refuses to write into a Secret it did not create for that Certificate.
pub const ALLOW_CERTIFICATE: &str = "tlm.certops.dev/allow-certificate";

/// Finalizer added only when a Certificate's certificate must be revoked on delete.
pub const REVOKE_FINALIZER: &str = "tlm.certops.dev/revoke-on-delete";

/// Field manager for server-side apply and patches.
pub const FIELD_MANAGER: &str = "tlm-operator";
