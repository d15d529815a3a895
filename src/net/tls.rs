//! TLS settings. The client: the usual web roots, extra roots from a PEM file, or
//! no verification at all when the user asks for it. The server: a certificate and
//! key from PEM files, or a self-signed certificate made at start.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, CipherSuite, ClientConfig, DigitallySignedStruct, ProtocolVersion,
    RootCertStore, ServerConfig, SignatureScheme, SupportedCipherSuite,
};

use crate::error::NetError;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn client_config(
    insecure: bool,
    ca_file: Option<&Path>,
) -> Result<Arc<ClientConfig>, NetError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::usage(format!("TLS setup failed: {e}")))?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        match ca_file {
            Some(path) => {
                let pinned = add_pem_roots(&mut roots, path)?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| NetError::usage(format!("--ca {}: {e}", path.display())))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(CaFileVerifier { webpki, pinned }))
                    .with_no_client_auth()
            }
            None => builder.with_root_certificates(roots).with_no_client_auth(),
        }
    };
    Ok(Arc::new(config))
}

/// Adds the file's certificates to the roots and returns them.
fn add_pem_roots(
    roots: &mut RootCertStore,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let bad = |why: String| NetError::usage(format!("--ca {}: {why}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(bad("no certificate found in the file".into()));
    }
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| bad(format!("unusable certificate: {e}")))?;
    }
    Ok(certs)
}

/// Whether webpki refused the server's certificate for carrying the CA flag.
pub fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

/// `--ca FILE`: the usual verification against the web roots plus the file's
/// certificates. A server that presents a CA certificate as its own (what
/// `openssl req -x509` makes by default) is refused by webpki even when that
/// very certificate is in the file; curl, Python and Node accept it. So does
/// this, for exactly a certificate in the file (byte for byte), with the name
/// still checked. The validity period is checked too: webpki looks at it
/// before the CA flag, so an expired one fails as expired.
#[derive(Debug)]
struct CaFileVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for CaFileVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self
                        .pinned
                        .iter()
                        .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                let cert = ParsedCertificate::try_from(end_entity)?;
                verify_server_name(&cert, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// `--insecure`: the user has chosen to trust whatever the server presents.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `TLSv1.3 TLS13_AES_256_GCM_SHA384`, for the open event and the dashboard.
pub fn describe(
    version: Option<ProtocolVersion>,
    suite: Option<SupportedCipherSuite>,
) -> Option<String> {
    let version = match version? {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    };
    let suite: CipherSuite = suite?.suite();
    Some(format!("{version} {suite:?}"))
}

fn server_builder() -> Result<rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier>, NetError>
{
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::usage(format!("TLS setup failed: {e}")))
}

fn finish(mut config: ServerConfig) -> Arc<ServerConfig> {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// `--tls-cert FILE --tls-key FILE`: PEM files, checked now so a mistake is one
/// clear line at start rather than a failure at the first connection.
pub fn server_from_pem(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, NetError> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| NetError::usage(format!("--tls-cert {}: {e}", cert.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            NetError::usage(format!(
                "--tls-cert {}: not a PEM certificate file ({e})",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(NetError::usage(format!(
            "--tls-cert {}: no certificate found in the file",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        NetError::usage(format!(
            "--tls-key {}: no usable private key ({e})",
            key.display()
        ))
    })?;
    let config = server_builder()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| NetError::usage(format!("--tls-cert/--tls-key: {e}")))?;
    Ok(finish(config))
}

/// A certificate made at start with `--tls-self-signed`.
pub struct SelfSigned {
    pub config: Arc<ServerConfig>,
    pub cert_pem: String,
    /// SHA-256 of the certificate, `AB:CD:…`.
    pub fingerprint: String,
}

pub fn self_signed() -> Result<SelfSigned, NetError> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| NetError::usage(format!("cannot make a self-signed certificate: {e}")))?;
    let der = ck.cert.der().clone();
    let fingerprint = fingerprint(&der);
    let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der())
        .map_err(|e| NetError::usage(format!("cannot use the self-signed key: {e}")))?;
    let config = server_builder()?
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .map_err(|e| NetError::usage(format!("cannot use the self-signed certificate: {e}")))?;
    Ok(SelfSigned {
        config: finish(config),
        cert_pem: ck.cert.pem(),
        fingerprint,
    })
}

pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificates_have_a_fingerprint() {
        let s = self_signed().unwrap();
        assert_eq!(s.fingerprint.len(), 32 * 3 - 1);
        assert!(s.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn bad_pem_files_are_usage_errors() {
        let dir = std::env::temp_dir();
        let empty = dir.join(format!("wsprobe-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not pem").unwrap();
        let err = server_from_pem(&empty, &empty).err().unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--tls-cert"), "{err}");
        let s = self_signed().unwrap();
        let cert = dir.join(format!("wsprobe-cert-{}.pem", std::process::id()));
        std::fs::write(&cert, &s.cert_pem).unwrap();
        let err = server_from_pem(&cert, &empty).err().unwrap();
        assert!(err.to_string().contains("--tls-key"), "{err}");
        let _ = std::fs::remove_file(empty);
        let _ = std::fs::remove_file(cert);
    }
}
