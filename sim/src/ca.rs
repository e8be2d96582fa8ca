//! The in-memory CA: an ECDSA P-256 root, an intermediate it signed, and leaf issuance by the
//! intermediate for public keys taken from verified CSRs.

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber, SubjectPublicKeyInfo,
};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::digest::{sha256_hex, thumbprint};
use crate::names::{SubjectAltNames, SubjectFields};

/// Long enough that no leaf the sim issues outlives its issuer.
const CA_LIFETIME: Duration = Duration::days(20 * 365);
/// Microsoft's user principal name otherName (`szOID_NT_PRINCIPAL_NAME`).
const UPN_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 311, 20, 2, 3];
/// The longest leaf lifetime a request may ask for.
pub const MAX_LEAF_LIFETIME: Duration = Duration::days(10 * 365);

#[derive(Clone, Debug)]
pub struct CaCertificate {
    pub der: Vec<u8>,
    pub pem: String,
    pub common_name: String,
}

/// The issuer as a CT monitor describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerIdentity {
    /// RFC 2253-style DN, e.g. `C=US, O=tlm-sim, CN=tlm-sim Issuing CA`.
    pub name: String,
    /// The CN alone: what CertCentral's CT monitor wants as `issuer`.
    pub common_name: Option<String>,
    pub pubkey_sha256: String,
}

pub struct CertificateAuthority {
    pub root: CaCertificate,
    pub intermediate: CaCertificate,
    /// Same subject as `intermediate`, signed by the root, but its own key: it signed no leaf.
    /// Served instead of the real one by the `broken_chain` fault.
    pub impostor: CaCertificate,
    pub identity: IssuerIdentity,
    issuer: Issuer<'static, KeyPair>,
}

/// What to put in one leaf certificate.
pub struct LeafSpec<'a> {
    pub serial: &'a [u8],
    pub subject: &'a SubjectFields,
    pub sans: &'a SubjectAltNames,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub public_key: &'a SubjectPublicKeyInfo,
    /// RSA keys also get keyEncipherment (TLS 1.2 RSA key exchange); EC and EdDSA keys cannot.
    pub key_encipherment: bool,
}

/// A signed certificate plus the digests every consumer of it asks for.
#[derive(Clone, Debug)]
pub struct IssuedCertificate {
    pub der: Vec<u8>,
    pub pem: String,
    /// Upper-case hex, as TLM shows it.
    pub serial_hex: String,
    pub thumbprint: String,
    pub tbs_sha256: String,
    pub spki_sha256: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl IssuedCertificate {
    pub fn from_der(der: Vec<u8>) -> anyhow::Result<Self> {
        let (_, parsed) = X509Certificate::from_der(&der)
            .map_err(|e| anyhow::anyhow!("the CA produced an unparsable certificate: {e}"))?;
        let validity = parsed.validity();
        let issued = IssuedCertificate {
            pem: crate::pem::encode("CERTIFICATE", &der),
            serial_hex: hex::encode_upper(parsed.raw_serial()),
            thumbprint: thumbprint(&der),
            tbs_sha256: sha256_hex(parsed.tbs_certificate.as_ref()),
            spki_sha256: sha256_hex(parsed.public_key().raw),
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
            der: Vec::new(),
        };
        Ok(IssuedCertificate { der, ..issued })
    }
}

impl CertificateAuthority {
    pub fn new(organization: &str, root_cn: &str, intermediate_cn: &str) -> anyhow::Result<Self> {
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let root_params = ca_params(organization, root_cn, BasicConstraints::Unconstrained);
        let root_cert = root_params.self_signed(&root_key)?;
        let root_issuer = Issuer::new(root_params, root_key);

        let intermediate_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut intermediate_params =
            ca_params(organization, intermediate_cn, BasicConstraints::Constrained(0));
        intermediate_params.use_authority_key_identifier_extension = true;
        let intermediate_cert = intermediate_params.signed_by(&intermediate_key, &root_issuer)?;

        let impostor_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut impostor_params = ca_params(organization, intermediate_cn, BasicConstraints::Constrained(0));
        impostor_params.use_authority_key_identifier_extension = true;
        let impostor_cert = impostor_params.signed_by(&impostor_key, &root_issuer)?;

        let intermediate_der = intermediate_cert.der().to_vec();
        let identity = issuer_identity(&intermediate_der)?;
        Ok(CertificateAuthority {
            root: CaCertificate {
                pem: root_cert.pem(),
                der: root_cert.der().to_vec(),
                common_name: root_cn.to_string(),
            },
            intermediate: CaCertificate {
                pem: intermediate_cert.pem(),
                der: intermediate_der,
                common_name: intermediate_cn.to_string(),
            },
            impostor: CaCertificate {
                pem: impostor_cert.pem(),
                der: impostor_cert.der().to_vec(),
                common_name: intermediate_cn.to_string(),
            },
            identity,
            issuer: Issuer::new(intermediate_params, intermediate_key),
        })
    }

    pub fn issue(&self, spec: &LeafSpec<'_>) -> anyhow::Result<IssuedCertificate> {
        let mut params = leaf_params(spec)?;
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(spec.public_key, &self.issuer)?;
        let der = crate::subject_dn::resign_with_subject(cert.der(), spec.subject, self.issuer.key())?;
        IssuedCertificate::from_der(der)
    }
}

/// A 20-byte serial: positive (top bit clear) and without a leading zero byte, so it is always
/// exactly 40 hex characters.
pub fn random_serial() -> [u8; 20] {
    let mut serial = [0u8; 20];
    rand::rng().fill_bytes(&mut serial);
    serial[0] = (serial[0] & 0x7f).max(1);
    serial
}

pub fn leaf_params(spec: &LeafSpec<'_>) -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(spec.serial));
    params.not_before = spec.not_before;
    params.not_after = spec.not_after;
    params.distinguished_name = crate::subject_dn::rcgen_dn(spec.subject);
    params.subject_alt_names = san_types(spec.sans)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = if spec.key_encipherment {
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ]
    } else {
        vec![KeyUsagePurpose::DigitalSignature]
    };
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    Ok(params)
}

fn ca_params(organization: &str, common_name: &str, constraints: BasicConstraints) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()));
    params.not_before = now - Duration::days(1);
    params.not_after = now + CA_LIFETIME;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "US");
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn san_types(sans: &SubjectAltNames) -> anyhow::Result<Vec<SanType>> {
    let mut out = Vec::new();
    for name in &sans.dns_names {
        out.push(SanType::DnsName(name.clone().try_into()?));
    }
    for ip in &sans.ip_addresses {
        out.push(SanType::IpAddress(*ip));
    }
    for email in &sans.emails {
        out.push(SanType::Rfc822Name(email.clone().try_into()?));
    }
    for uri in &sans.uris {
        out.push(SanType::URI(uri.clone().try_into()?));
    }
    for upn in &sans.user_principal_names {
        out.push(SanType::OtherName((UPN_OID.to_vec(), upn.clone().into())));
    }
    Ok(out)
}

pub fn issuer_identity(ca_der: &[u8]) -> anyhow::Result<IssuerIdentity> {
    let (_, parsed) =
        X509Certificate::from_der(ca_der).map_err(|e| anyhow::anyhow!("unparsable CA certificate: {e}"))?;
    let common_name = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(String::from);
    Ok(IssuerIdentity {
        name: parsed.subject().to_string(),
        common_name,
        pubkey_sha256: sha256_hex(parsed.public_key().raw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::PublicKeyData;

    #[test]
    fn serials_are_40_hex_characters_and_positive() {
        for _ in 0..200 {
            let serial = random_serial();
            assert!(serial[0] >= 1 && serial[0] <= 0x7f);
            assert_eq!(hex::encode_upper(serial).len(), 40);
        }
    }

    #[test]
    fn chain_links_by_signature() {
        let ca = CertificateAuthority::new("tlm-sim", "Root", "Issuing").expect("ca");
        let (_, root) = X509Certificate::from_der(&ca.root.der).expect("root");
        let (_, intermediate) = X509Certificate::from_der(&ca.intermediate.der).expect("intermediate");
        intermediate
            .verify_signature(Some(root.public_key()))
            .expect("intermediate signed by root");
        root.verify_signature(None).expect("root self-signed");
        assert_eq!(ca.identity.name, "C=US, O=tlm-sim, CN=Issuing");

        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key");
        let spki = SubjectPublicKeyInfo::from_der(&key.subject_public_key_info()).expect("spki");
        let now = OffsetDateTime::now_utc();
        let subject = SubjectFields {
            common_name: Some("leaf.example".into()),
            ..Default::default()
        };
        let sans = SubjectAltNames {
            dns_names: vec!["leaf.example".into()],
            ..Default::default()
        };
        let serial = random_serial();
        let leaf = ca
            .issue(&LeafSpec {
                serial: &serial,
                subject: &subject,
                sans: &sans,
                not_before: now,
                not_after: now + Duration::days(1),
                public_key: &spki,
                key_encipherment: false,
            })
            .expect("leaf");
        assert_eq!(leaf.serial_hex, hex::encode_upper(serial));
        let (_, parsed) = X509Certificate::from_der(&leaf.der).expect("leaf parses");
        parsed
            .verify_signature(Some(intermediate.public_key()))
            .expect("leaf signed by intermediate");
        assert_eq!(parsed.public_key().raw, key.subject_public_key_info().as_slice());
        assert_eq!(parsed.subject().to_string(), "CN=leaf.example");
        assert_eq!(ca.identity.common_name.as_deref(), Some("Issuing"));

        let (_, impostor) = X509Certificate::from_der(&ca.impostor.der).expect("impostor");
        assert_eq!(impostor.subject(), intermediate.subject(), "same name");
        assert!(
            parsed.verify_signature(Some(impostor.public_key())).is_err(),
            "the impostor did not sign the leaf"
        );
        impostor
            .verify_signature(Some(root.public_key()))
            .expect("impostor signed by root");
    }
}
