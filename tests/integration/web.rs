//! Browsers and every transport, hermetic: CORS preflights, gRPC-Web over HTTP/1.1 (its
//! trailers as the body's last envelope), Connect GET, rmicro's Connect and gRPC-Web
//! clients against `rmicro serve`, and serving on a unix socket.

use crate::support::*;
use std::io::Read;
use std::net::TcpStream;
use std::process::Stdio;

fn web(extra: &[&str]) -> Server {
    let dir = root().join("interop/web");
    let mut args = vec![
        "--proto".to_owned(),
        dir.join("web.proto").to_string_lossy().into_owned(),
        "--handlers".to_owned(),
        dir.join("web.handlers.json").to_string_lossy().into_owned(),
    ];
    args.extend(extra.iter().map(|arg| arg.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&args)
}

/// Everything the server sends until it closes the connection.
fn whole_reply(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    use std::io::Write;
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    reply
}

#[test]
fn cors_preflights_are_answered_for_allowed_origins_only() {
    let server = web(&["--cors-origin", "http://page.test:3000"]);
    let ask = |origin: &str| {
        let request = format!(
            "OPTIONS /web.v1.Web/Say HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type,x-grpc-web\r\n\r\n"
        );
        String::from_utf8(exchange(&mut server.connect(), request.as_bytes())).unwrap()
    };
    let allowed = ask("http://page.test:3000");
    assert!(
        allowed.starts_with("HTTP/1.1 204 No Content\r\n"),
        "{allowed}"
    );
    assert!(allowed.contains("Access-Control-Allow-Origin: http://page.test:3000\r\n"));
    assert!(allowed.contains("Access-Control-Allow-Headers: content-type,x-grpc-web\r\n"));
    let refused = ask("http://elsewhere.test");
    assert!(
        refused.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{refused}"
    );
    assert!(!refused.contains("Access-Control-Allow-Origin"));
    // A reply to an allowed origin lets its page read the status headers.
    let body = r#"{"text":"hi"}"#;
    let request = format!(
        "POST /web.v1.Web/Say HTTP/1.1\r\nHost: x\r\nOrigin: http://page.test:3000\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = String::from_utf8(exchange(&mut server.connect(), request.as_bytes())).unwrap();
    assert!(
        reply.contains("Access-Control-Allow-Origin: http://page.test:3000\r\n"),
        "{reply}"
    );
    assert!(reply.contains("Access-Control-Expose-Headers: Grpc-Status, Grpc-Message"));
    assert!(
        reply.trim_end().ends_with(r#"{"text":"echo: hi"}"#),
        "{reply}"
    );
}

#[test]
fn grpc_web_over_http1_ends_its_body_with_a_trailer_envelope() {
    let server = web(&[]);
    // SayRequest{text:"missing"}: field 1, 7 bytes.
    let message = b"\x0a\x07missing";
    let mut envelope = vec![0, 0, 0, 0, message.len() as u8];
    envelope.extend_from_slice(message);
    let mut request = format!(
        "POST /web.v1.Web/Say HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        envelope.len()
    )
    .into_bytes();
    request.extend_from_slice(&envelope);
    let reply = whole_reply(&mut server.connect(), &request);
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Type: application/grpc-web+proto\r\n"));
    // One chunk: the trailer envelope (flag 0x80) with the error's status.
    let at = reply
        .iter()
        .position(|byte| *byte == 0x80)
        .expect("a trailer envelope");
    let length = u32::from_be_bytes(reply[at + 1..at + 5].try_into().unwrap()) as usize;
    let block = String::from_utf8_lossy(&reply[at + 5..at + 5 + length]);
    assert_eq!(block, "grpc-status:5\r\ngrpc-message:no such thing\r\n");
}

#[test]
fn connect_get_serves_side_effect_free_methods_only() {
    let server = web(&[]);
    let get = |path: &str| {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        String::from_utf8(exchange(&mut server.connect(), request.as_bytes())).unwrap()
    };
    let looked =
        get("/web.v1.Web/Look?connect=v1&encoding=json&message=%7B%22text%22%3A%22hi%22%7D");
    assert!(looked.starts_with("HTTP/1.1 200 OK\r\n"), "{looked}");
    assert!(
        looked.trim_end().ends_with(r#"{"text":"looked: hi"}"#),
        "{looked}"
    );
    // base64=1: URL-safe, unpadded binary proto (SayRequest{text:"hi"} is 0a 02 68 69).
    let binary = get("/web.v1.Web/Look?encoding=proto&base64=1&message=CgJoaQ");
    assert!(binary.ends_with("\n\nlooked: hi"), "{binary:?}");
    let refused = get("/web.v1.Web/Say?encoding=json&message=%7B%7D");
    assert!(
        refused.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{refused}"
    );
    assert!(refused.contains("Allow: POST\r\n"));
    assert!(refused.contains(r#""code":"unimplemented""#));
    let no_encoding = get("/web.v1.Web/Look?message=%7B%7D");
    assert!(no_encoding.starts_with("HTTP/1.1 400 "), "{no_encoding}");
}

#[test]
fn connect_and_grpc_web_clients_call_serve() {
    let server = web(&[]);
    let proto = root().join("interop/web/web.proto");
    let proto = proto.to_string_lossy();
    for scheme in ["connect", "grpc-web"] {
        let address = format!("{scheme}://{}", server.address);
        let call = |args: &[&str]| {
            rmicro()
                .args(["call", "-a", &address, "--proto", &proto])
                .args(args)
                .output()
                .unwrap()
        };
        let said = call(&["web.v1.Web/Say", r#"{"text":"hi"}"#]);
        assert_exit(&said, 0);
        assert_eq!(stdout(&said).trim(), r#"{"text":"echo: hi"}"#);
        let counted = call(&["web.v1.Web/Count", r#"{"count":3}"#]);
        assert_exit(&counted, 0);
        assert_eq!(stdout(&counted).lines().count(), 3, "{scheme}");
        let missing = call(&["web.v1.Web/Say", r#"{"text":"missing"}"#]);
        assert_exit(&missing, 69);
        assert_stderr_has(&missing, "NOT_FOUND: no such thing");
        // -v names the protocol's attempt as for gRPC.
        let verbose = call(&["-v", "web.v1.Web/Say", r#"{"text":"hi"}"#]);
        assert_exit(&verbose, 0);
    }
    // Reflection over Connect: the schema comes from the server.
    let listed = rmicro()
        .args(["list", "-a", &format!("connect://{}", server.address)])
        .output()
        .unwrap();
    assert_exit(&listed, 0);
    assert_stdout_has(&listed, "Web.Look");
}

#[test]
fn serve_on_a_unix_socket_refuses_a_held_one_and_removes_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rmicro.sock");
    let address = format!("unix://{}", path.display());
    let proto = root().join("interop/web/web.proto");
    let proto = proto.to_string_lossy().into_owned();
    let mut first = rmicro()
        .args([
            "serve",
            "--proto",
            &proto,
            "--no-register",
            "--address",
            &address,
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the socket is bound", || {
        std::os::unix::net::UnixStream::connect(&path).is_ok()
    });
    let second = rmicro()
        .args([
            "serve",
            "--proto",
            &proto,
            "--no-register",
            "--address",
            &address,
        ])
        .output()
        .unwrap();
    assert_exit(&second, 1);
    assert_stderr_has(&second, "a server is already listening on that socket");
    for scheme in ["unix", "grpc+unix", "connect+unix"] {
        let called = rmicro()
            .args([
                "call",
                "-a",
                &format!("{scheme}://{}", path.display()),
                "--proto",
                &proto,
            ])
            .args(["web.v1.Web/Say", r#"{"text":"hi"}"#])
            .output()
            .unwrap();
        assert_exit(&called, 0);
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(first.id() as i32, libc::SIGTERM);
    }
    assert!(first.wait().unwrap().success());
    assert!(!path.exists(), "the socket file is left behind");
    // A stale socket file (its server gone without removing it) is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(stale);
    let mut again = rmicro()
        .args([
            "serve",
            "--proto",
            &proto,
            "--no-register",
            "--address",
            &address,
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the stale socket is replaced", || {
        std::os::unix::net::UnixStream::connect(&path).is_ok()
    });
    let _ = again.kill();
    let _ = again.wait();
}

#[test]
fn grpc_web_text_and_cors_over_http2() {
    let server = web(&["--cors-origin", "http://page.test"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (preflight, headers, body) = runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(&server.address)
            .await
            .unwrap();
        let (client, connection) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(connection);
        let mut client = client.ready().await.unwrap();
        let url = format!("http://{}/web.v1.Web/Say", server.address);
        let request = http::Request::builder()
            .method("OPTIONS")
            .uri(&url)
            .header("origin", "http://page.test")
            .header("access-control-request-method", "POST")
            .body(())
            .unwrap();
        let (response, _) = client.send_request(request, true).unwrap();
        let preflight = response.await.unwrap();
        let mut client = client.ready().await.unwrap();
        let request = http::Request::post(&url)
            .header("content-type", "application/grpc-web-text")
            .header("origin", "http://page.test")
            .body(())
            .unwrap();
        let (response, mut send) = client.send_request(request, false).unwrap();
        // SayRequest{text:"hi"} enveloped, base64 in two pieces, the first padded.
        send.send_data("AAAAAAQ=".into(), false).unwrap();
        send.send_data("CgJoaQ==".into(), true).unwrap();
        let (parts, mut body) = response.await.unwrap().into_parts();
        let mut text = Vec::new();
        while let Some(data) = body.data().await {
            text.extend_from_slice(&data.unwrap());
        }
        (preflight.status(), parts.headers, text)
    });
    assert_eq!(preflight, 204);
    assert_eq!(headers["content-type"], "application/grpc-web-text+proto");
    assert_eq!(headers["access-control-allow-origin"], "http://page.test");
    use base64::Engine;
    let text = String::from_utf8(body).unwrap();
    let mut decoded = Vec::new();
    for group in text.as_bytes().chunks(4) {
        decoded.extend(
            base64::engine::general_purpose::STANDARD
                .decode(group)
                .unwrap(),
        );
    }
    let length = u32::from_be_bytes(decoded[1..5].try_into().unwrap()) as usize;
    assert_eq!(&decoded[5..5 + length], b"\x0a\x08echo: hi");
    assert_eq!(decoded[5 + length], 0x80);
    assert_eq!(&decoded[5 + length + 5..], b"grpc-status:0\r\n");
}

#[test]
fn a_bad_grpc_web_body_gets_its_status_and_the_server_serves_on() {
    let server = web(&[]);
    let post = |content_type: &str, body: &[u8]| {
        let mut request = format!(
            "POST /web.v1.Web/Say HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        String::from_utf8_lossy(&whole_reply(&mut server.connect(), &request)).into_owned()
    };
    // Not base64; then a message cut short; then two messages for a unary method.
    let not_base64 = post("application/grpc-web-text", b"!!!!");
    assert!(
        text_body(&not_base64).contains("grpc-status:3"),
        "{not_base64}"
    );
    let cut = post("application/grpc-web", b"\x00\x00\x00\x00\x09\x0a");
    assert!(cut.contains("grpc-status:3"), "{cut}");
    let two = post(
        "application/grpc-web",
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    );
    assert!(
        two.contains("grpc-status:3") && two.contains("not 2"),
        "{two}"
    );
    let fine = post("application/grpc-web", b"\x00\x00\x00\x00\x04\x0a\x02hi");
    assert!(
        fine.contains("echo: hi") && fine.contains("grpc-status:0"),
        "{fine}"
    );
}

/// The decoded body of a chunked grpc-web-text reply: each chunk is base64 of its own.
fn text_body(reply: &str) -> String {
    use base64::Engine;
    let (_, chunked) = reply.split_once("\r\n\r\n").expect("a head");
    let mut decoded = Vec::new();
    for chunk in chunked.split("\r\n").skip(1).step_by(2) {
        decoded.extend(
            base64::engine::general_purpose::STANDARD
                .decode(chunk)
                .unwrap(),
        );
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
