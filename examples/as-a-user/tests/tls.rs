//! A corporate root CA (a TLS-inspecting proxy's): without it both backends refuse the server,
//! with `add_root_certificate` both trust it. Everything named through `juhe_2fa::` only.

use std::sync::Arc;

use juhe_2fa::testing::answer;
use juhe_2fa::{BlockingClient, Client, ClientBuilder, Error, ErrorClass, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A test CA, and a server certificate for `localhost` it signed.
struct Pki {
    ca_pem: String,
    server: rustls::ServerConfig,
}

fn pki() -> Pki {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "juhe-2fa test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server,
    }
}

/// Serves the vendor's "match" answer over TLS on a free loopback port, on its own runtime.
fn serve(config: rustls::ServerConfig) -> (u16, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let body = answer::matched("JHTLS").into_body();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(&body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, rt)
}

fn builder(port: u16) -> ClientBuilder {
    ClientBuilder::new()
        .api_key("k")
        .base_url(format!("https://localhost:{port}"))
        .retry_policy(RetryPolicy::none())
}

fn both(b: ClientBuilder) -> [Result<juhe_2fa::Verification, Error>; 2] {
    let blocking: BlockingClient = b.clone().build_blocking().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client: Client = rt.block_on(async { b.build() }).unwrap();
    [
        blocking.verify("110105199003071239", "13012345678"),
        rt.block_on(client.verify("110105199003071239", "13012345678")),
    ]
}

#[test]
fn a_custom_root_ca_is_trusted_only_when_added() {
    let pki = pki();
    let (port, _server) = serve(pki.server);
    for result in both(builder(port)) {
        let e = result.unwrap_err();
        assert_eq!(
            e.class(),
            ErrorClass::Unbilled,
            "refused before sending: {e:?}"
        );
        assert!(e.nothing_sent());
    }
    for result in both(builder(port).add_root_certificate(pki.ca_pem.clone())) {
        let v = result.unwrap();
        assert_eq!(v.order_id, "JHTLS");
    }
    // Only the custom root: still fine here.
    for result in both(
        builder(port)
            .add_root_certificate(pki.ca_pem.clone())
            .tls_built_in_roots(false),
    ) {
        assert!(result.is_ok());
    }
    // Not a certificate: refused at build, for both backends.
    let bad = builder(port).add_root_certificate("not a certificate");
    assert!(bad.clone().build_blocking().is_err());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt.block_on(async { bad.build() }).is_err());
}
