//! PKCS#7 "certs-only" bundles: a CMS SignedData with no content and no signers, the form TLM
//! delivers a certificate with its chain in (`-----BEGIN PKCS7-----`).

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
use const_oid::db::rfc5911::{ID_DATA, ID_SIGNED_DATA};
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode};

/// DER of a certs-only SignedData holding `certificates`. A SET OF is unordered, and DER sorts
/// it, so readers must rebuild the chain from issuer/subject links rather than rely on order.
pub fn certs_only_der(certificates: &[&[u8]]) -> anyhow::Result<Vec<u8>> {
    let choices = certificates
        .iter()
        .map(|der| {
            Ok(CertificateChoices::Certificate(x509_cert::Certificate::from_der(
                der,
            )?))
        })
        .collect::<der::Result<Vec<_>>>()?;
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(choices)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    let content_info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    };
    Ok(content_info.to_der()?)
}

pub fn certs_only_pem(certificates: &[&[u8]]) -> anyhow::Result<String> {
    Ok(crate::pem::encode("PKCS7", &certs_only_der(certificates)?))
}

/// The certificates (DER) inside a certs-only bundle; the inverse of [`certs_only_der`].
#[cfg(test)]
fn certificates_in(der: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let content_info = ContentInfo::from_der(der)?;
    anyhow::ensure!(content_info.content_type == ID_SIGNED_DATA, "not a SignedData");
    let signed_data: SignedData = content_info.content.decode_as()?;
    let Some(set) = signed_data.certificates else {
        return Ok(Vec::new());
    };
    set.0
        .iter()
        .map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Ok(cert.to_der()?),
            CertificateChoices::Other(_) => anyhow::bail!("unexpected non-X.509 certificate"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::CertificateAuthority;

    #[test]
    fn round_trips_the_chain() {
        let ca = CertificateAuthority::new("tlm-sim", "Root", "Issuing").expect("ca");
        let der = certs_only_der(&[&ca.intermediate.der, &ca.root.der]).expect("pkcs7");
        let mut inside = certificates_in(&der).expect("parse");
        inside.sort();
        let mut expected = vec![ca.intermediate.der.clone(), ca.root.der.clone()];
        expected.sort();
        assert_eq!(inside, expected);
        let pem = certs_only_pem(&[&ca.root.der]).expect("pem");
        assert!(pem.starts_with("-----BEGIN PKCS7-----\n"));
    }
}
