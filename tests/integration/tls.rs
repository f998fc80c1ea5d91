//! TLS between rmicro's own client and server, with certificates made for each test by
//! rcgen: gRPC over grpcs:// with --cacert, --insecure and --authority; mutual TLS with
//! --client-ca; the errors for an untrusted server, a missing client certificate and a
//! plaintext caller, with the server serving on after each; and a TLS node found through
//! the registry. grpcio and Python's ssl module as peers are interop/test_tls.py.

use crate::support::{
    assert_exit, assert_stderr_has, json, run, run_in_registry, write_temp, Server,
};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::process::Output;
use tempfile::TempDir;

/// A CA and the PEM files it signed, in a directory of their own.
pub struct Certificates {
    dir: TempDir,
}

impl Certificates {
    /// `ca.pem`; `server.pem`/`server.key` for localhost and 127.0.0.1; `client.pem`/`client.key`.
    pub fn new() -> Certificates {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        write_temp(dir.path(), "ca.pem", ca.pem().as_bytes());
        for (name, names, purpose) in [
            (
                "server",
                vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            ("client", vec![], ExtendedKeyUsagePurpose::ClientAuth),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![purpose];
            let certificate = params.signed_by(&key, &ca, &ca_key).unwrap();
            write_temp(
                dir.path(),
                &format!("{name}.pem"),
                certificate.pem().as_bytes(),
            );
            write_temp(
                dir.path(),
                &format!("{name}.key"),
                key.serialize_pem().as_bytes(),
            );
        }
        Certificates { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// `rmicro serve` of the greeter over TLS, plus `extra` flags.
    pub fn server(&self, extra: &[&str]) -> Server {
        let (cert, key) = (self.path("server.pem"), self.path("server.key"));
        let mut args = vec!["--no-register", "--tls-cert", &cert, "--tls-key", &key];
        args.extend_from_slice(extra);
        Server::greeter(&args)
    }
}

fn call(address: &str, extra: &[&str]) -> Output {
    let hello = [
        "call",
        "Greeter.Hello",
        r#"{"name":"John"}"#,
        "--address",
        address,
    ];
    run(&[&hello[..], extra].concat())
}

fn assert_hello(output: &Output) {
    assert_exit(output, 0);
    assert_eq!(json(output)["msg"], "Hello John");
}

#[test]
fn grpcs_is_verified_against_the_given_ca_and_the_address_or_authority() {
    let certificates = Certificates::new();
    let server = certificates.server(&[]);
    let grpcs = format!("grpcs://{}", server.address);
    let ca = certificates.path("ca.pem");

    assert_hello(&call(&grpcs, &["--cacert", &ca]));
    // A bare HOST:PORT with a TLS flag is gRPC over TLS.
    assert_hello(&call(&server.address, &["--cacert", &ca]));
    assert_hello(&call(
        &grpcs,
        &["--cacert", &ca, "--authority", "localhost"],
    ));

    let untrusted = call(&grpcs, &[]);
    assert_exit(&untrusted, 1);
    assert_stderr_has(&untrusted, "UnknownIssuer");
    assert_stderr_has(&untrusted, "--cacert");
    assert_hello(&call(&grpcs, &["--insecure"]));

    let elsewhere = call(&grpcs, &["--cacert", &ca, "--authority", "other.example"]);
    assert_exit(&elsewhere, 1);
    assert_stderr_has(&elsewhere, "not valid for name \"other.example\"");

    // Reflection over TLS, after the failed handshakes.
    let listed = run(&["list", "--address", &grpcs, "--cacert", &ca]);
    assert_exit(&listed, 0);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("Greeter.Hello"));
}

#[test]
fn mutual_tls_wants_a_client_certificate_the_ca_signed() {
    let certificates = Certificates::new();
    let ca = certificates.path("ca.pem");
    let server = certificates.server(&["--client-ca", &ca]);
    assert!(server.log().contains("mutual TLS"), "{}", server.log());
    let grpcs = format!("grpcs://{}", server.address);

    let anonymous = call(&grpcs, &["--cacert", &ca]);
    assert_exit(&anonymous, 1);
    assert_stderr_has(&anonymous, "--cert FILE --key FILE");

    let (cert, key) = (
        certificates.path("client.pem"),
        certificates.path("client.key"),
    );
    assert_hello(&call(
        &grpcs,
        &["--cacert", &ca, "--cert", &cert, "--key", &key],
    ));
}

#[test]
fn plaintext_callers_of_a_tls_server_are_told_and_tls_callers_of_a_plain_one_too() {
    let certificates = Certificates::new();
    let server = certificates.server(&[]);
    let h2c = call(&format!("grpc://{}", server.address), &[]);
    assert_exit(&h2c, 1);
    assert_stderr_has(&h2c, "use grpcs://");
    let mucp = call(&server.address, &[]);
    assert_exit(&mucp, 1);
    assert_stderr_has(&mucp, "Client sent an HTTP request to a TLS server");
    assert_hello(&call(
        &format!("grpcs://{}", server.address),
        &["--cacert", &certificates.path("ca.pem")],
    ));

    let plain = Server::greeter(&["--no-register"]);
    let tls = call(&format!("grpcs://{}", plain.address), &["--insecure"]);
    assert_exit(&tls, 1);
    assert_stderr_has(&tls, "it may not speak TLS");
    assert_hello(&call(&format!("grpc://{}", plain.address), &[]));
}

#[test]
fn every_protocol_is_called_over_tls() {
    let certificates = Certificates::new();
    let server = certificates.server(&[]);
    let ca = certificates.path("ca.pem");
    let others = Certificates::new();
    for scheme in ["mucp", "jsonrpc", "grpc", "connect", "grpc-web"] {
        let address = format!("{scheme}://{}", server.address);
        assert_hello(&call(&address, &["--cacert", &ca]));
        assert_hello(&call(&address, &["--insecure", "--authority", "localhost"]));
        // The port refuses plaintext, and an untrusted certificate is named.
        let untrusted = call(&address, &["--cacert", &others.path("ca.pem")]);
        assert_exit(&untrusted, 1);
        assert_stderr_has(&untrusted, "invalid peer certificate");
    }
    // https:// is Connect over TLS.
    assert_hello(&call(
        &format!("https://{}", server.address),
        &["--cacert", &ca],
    ));
}

#[test]
fn a_tls_node_is_registered_secure_and_called_over_tls() {
    let certificates = Certificates::new();
    let registry = tempfile::tempdir().unwrap();
    let url = format!("file://{}", registry.path().display());
    let (cert, key) = (
        certificates.path("server.pem"),
        certificates.path("server.key"),
    );
    let _server = Server::greeter(&["--registry", &url, "--tls-cert", &cert, "--tls-key", &key]);

    // The embedded registry keeps a file per node under the service's directory.
    let records: Vec<String> = std::fs::read_dir(registry.path().join("greeter"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert!(
        records
            .iter()
            .any(|record| record.contains(r#""secure":"true""#)),
        "{records:?}"
    );

    let ca = certificates.path("ca.pem");
    let called = run_in_registry(
        &url,
        &[
            "call",
            "--service",
            "greeter",
            "Greeter.Hello",
            r#"{"name":"John"}"#,
            "--cacert",
            &ca,
        ],
    );
    // The port refuses plaintext, so a reply means the node was called over TLS, in
    // the first protocol the node offers.
    assert_hello(&called);
}

#[test]
fn bad_certificate_files_are_refused_at_start_up() {
    let certificates = Certificates::new();
    let output = run(&[
        "serve",
        "--no-register",
        "--proto",
        &crate::support::fixture("greeter.proto"),
        "--tls-cert",
        &certificates.path("server.pem"),
        "--tls-key",
        &certificates.path("client.key"),
    ]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "does not go with --tls-key");
    let dir = tempfile::tempdir().unwrap();
    let empty = write_temp(dir.path(), "empty.pem", b"not a certificate\n");
    let output = call("grpcs://127.0.0.1:1", &["--cacert", &empty]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "holds no PEM certificate");
}
