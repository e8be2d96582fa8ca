//! The PKI a kube-apiserver needs: a serving CA and certificate, a client CA and an admin client
//! certificate, and a service-account signing key.

use std::path::Path;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};

/// PEM files written for one control plane.
pub struct ControlPlanePki {
    pub serving_ca_pem: String,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
}

fn ca(common_name: &str) -> Result<(CertificateParams, KeyPair, String)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    Ok((params, key, cert.pem()))
}

/// Generates everything and writes the files kube-apiserver reads into `dir`.
pub fn write_pki(dir: &Path) -> Result<ControlPlanePki> {
    let (serving_ca_params, serving_ca_key, serving_ca_pem) = ca("tlm-testkit serving CA")?;
    let serving_issuer = Issuer::new(serving_ca_params, serving_ca_key);

    let serving_key = KeyPair::generate()?;
    let mut serving = CertificateParams::new(vec!["localhost".to_string()])?;
    serving
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse()?));
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_cert = serving.signed_by(&serving_key, &serving_issuer)?;

    let (client_ca_params, client_ca_key, client_ca_pem) = ca("tlm-testkit client CA")?;
    let client_issuer = Issuer::new(client_ca_params, client_ca_key);
    let admin_key = KeyPair::generate()?;
    let mut admin = CertificateParams::default();
    admin.distinguished_name = DistinguishedName::new();
    admin.distinguished_name.push(DnType::CommonName, "testkit-admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_cert = admin.signed_by(&admin_key, &client_issuer)?;

    let sa_key = KeyPair::generate()?;

    let write = |name: &str, contents: &str| {
        std::fs::write(dir.join(name), contents).with_context(|| format!("write {name}"))
    };
    write("serving.crt", &serving_cert.pem())?;
    write("serving.key", &serving_key.serialize_pem())?;
    write("serving-ca.crt", &serving_ca_pem)?;
    write("client-ca.crt", &client_ca_pem)?;
    write("sa.key", &sa_key.serialize_pem())?;
    write("sa.pub", &sa_key.public_key_pem())?;

    Ok(ControlPlanePki {
        serving_ca_pem,
        admin_cert_pem: admin_cert.pem(),
        admin_key_pem: admin_key.serialize_pem(),
    })
}
