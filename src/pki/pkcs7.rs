//! PKCS#7 / CMS certs-only SignedData: TLM may deliver a chain this way, and the Secret's
//! optional `tls.p7c` output is written this way.

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignedData, SignerInfos};
use const_oid::db::rfc5911::{ID_DATA, ID_SIGNED_DATA};
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode};

use super::{CertDer, PkiError};

/// The certificates inside a DER PKCS#7 SignedData, in stored order (a SET: unordered).
pub fn certs_from_pkcs7_der(der: &[u8]) -> Result<Vec<CertDer>, PkiError> {
    let bad = |e: der::Error| PkiError::Pkcs7(e.to_string());
    let info = ContentInfo::from_der(der).map_err(bad)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(PkiError::Pkcs7(format!(
            "content type {} is not signed-data",
            info.content_type
        )));
    }
    let signed: SignedData = info.content.decode_as().map_err(bad)?;
    let mut out = Vec::new();
    for choice in signed.certificates.map(|s| s.0.into_vec()).unwrap_or_default() {
        if let CertificateChoices::Certificate(cert) = choice {
            out.push(cert.to_der().map_err(bad)?);
        }
    }
    if out.is_empty() {
        return Err(PkiError::NoCertificate("PKCS#7 data"));
    }
    Ok(out)
}

/// A PEM (`-----BEGIN PKCS7-----`) certs-only SignedData holding `certs`.
pub fn pkcs7_pem_from_certs(certs: &[CertDer]) -> Result<String, PkiError> {
    let bad = |e: der::Error| PkiError::Pkcs7(e.to_string());
    let mut choices = Vec::new();
    for der in certs {
        let cert = x509_cert::Certificate::from_der(der).map_err(bad)?;
        choices.push(CertificateChoices::Certificate(cert));
    }
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::new(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(choices).map_err(bad)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::new()),
    };
    let info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(bad)?,
    };
    Ok(super::pem_encode("PKCS7", info.to_der().map_err(bad)?))
}
