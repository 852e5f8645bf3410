//! TLS for the netcat and http labs, and for the grader's side of their checks.
//!
//! A lab wraps its socket itself, which is the lesson: `rustls::StreamOwned::new(conn, tcp)` is
//! a stream like the `TcpStream` inside it. Making certificates and choosing what to trust is
//! not the lesson, so it lives here: a self-signed certificate made at start ([`self_signed`],
//! as Ncat does for `-l --ssl`), a server configuration from it or from PEM files, and client
//! configurations that trust a CA file, the built-in web roots, or (Ncat's default) anything.
//! The crypto provider is ring (see `Cargo.toml`), chosen explicitly here.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use sha2::{Digest, Sha256};

pub use rustls;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate and its private key, in DER (for rustls) and PEM (to write to a file).
pub struct Identity {
    pub certs: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The first certificate in PEM, for `--cacert`, `curl --cacert` or `openssl s_client -CAfile`.
    pub cert_pem: String,
}

impl Identity {
    /// The SHA-256 fingerprint of the first certificate, as `AB:CD:…` (what `openssl x509
    /// -fingerprint -sha256` prints, and what a client compares by hand).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.certs[0])
    }
}

/// The SHA-256 fingerprint of a DER certificate, as upper-case hex pairs joined by `:`.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    let pairs: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// A new self-signed certificate for these names (host names or IP addresses), valid now.
pub fn self_signed(names: &[&str]) -> Result<Identity, String> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a self-signed certificate: {e}"))?;
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
        .map_err(|e| format!("cannot use the new certificate's key: {e}"))?;
    Ok(Identity {
        cert_pem: made.cert.pem(),
        certs: vec![made.cert.der().clone()],
        key,
    })
}

/// A certificate chain and key read from PEM files (`--ssl-cert`, `--ssl-key`).
pub fn identity_from_files(cert: &Path, key: &Path) -> Result<Identity, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    let cert_pem = std::fs::read_to_string(cert).unwrap_or_default();
    Ok(Identity {
        certs,
        key,
        cert_pem,
    })
}

/// A server configuration presenting this identity.
pub fn server_config(identity: &Identity) -> Result<Arc<ServerConfig>, String> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(identity.certs.clone(), identity.key.clone_key())
        .map_err(|e| format!("TLS setup: the certificate and key do not fit: {e}"))?;
    Ok(Arc::new(config))
}

/// What a client trusts.
pub enum Trust<'a> {
    /// Every certificate in this PEM file (a self-signed server's certificate, or a CA).
    File(&'a Path),
    /// The built-in web roots (Mozilla's list, compiled in).
    WebRoots,
    /// Anything, without checking: Ncat's `--ssl` without `--ssl-verify`. The connection is
    /// encrypted but the client does not know whom it talks to.
    Anyone,
}

/// A client configuration that trusts as told.
pub fn client_config(trust: Trust<'_>) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = match trust {
        Trust::Anyone => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyone(provider())))
            .with_no_client_auth(),
        Trust::WebRoots => {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::File(path) => {
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("no usable certificate in {}", path.display()));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// The name a client asks for and checks the certificate against: a host name or an IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string()).map_err(|e| format!("{host:?} is not a host name: {e}"))
}

/// Ncat's unverified `--ssl`: any certificate is taken, but the handshake's signatures are still
/// checked, so the session keys are the server's (only *who* the server is stays unknown).
#[derive(Debug)]
struct AcceptAnyone(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyone {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    /// A self-signed server and a client trusting its certificate file talk; a client trusting
    /// only the web roots refuses it; an unverifying client talks too.
    #[test]
    fn self_signed_round_trip() {
        let id = self_signed(&["localhost", "127.0.0.1"]).unwrap();
        assert_eq!(id.fingerprint().len(), 32 * 3 - 1);
        let dir = std::env::temp_dir().join(format!("socklab-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("cert.pem");
        std::fs::write(&pem, &id.cert_pem).unwrap();
        let server = server_config(&id).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let serve = std::thread::spawn(move || {
            for _ in 0..3 {
                let (tcp, _) = listener.accept().unwrap();
                tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let conn = rustls::ServerConnection::new(server.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = [0u8; 5];
                if tls.read_exact(&mut buf).is_ok() {
                    let _ = tls.write_all(&buf);
                    let _ = tls.flush();
                }
            }
        });
        let talk = |trust: Trust<'_>| -> Result<Vec<u8>, String> {
            let config = client_config(trust)?;
            let conn = rustls::ClientConnection::new(config, server_name("localhost")?)
                .map_err(|e| e.to_string())?;
            let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            tls.write_all(b"hello").map_err(|e| e.to_string())?;
            let mut back = [0u8; 5];
            tls.read_exact(&mut back).map_err(|e| e.to_string())?;
            Ok(back.to_vec())
        };
        assert_eq!(talk(Trust::File(&pem)).unwrap(), b"hello");
        assert!(
            talk(Trust::WebRoots).is_err(),
            "a self-signed certificate is not a web root"
        );
        assert_eq!(talk(Trust::Anyone).unwrap(), b"hello");
        serve.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
