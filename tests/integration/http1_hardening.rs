//! HTTP/1.1 as a hostile client or a proxy in front of the server would speak it: request
//! framing that two parsers could read differently is refused (RFC 9112 §6), `Expect:
//! 100-continue` is answered, chunked trailers and extensions are bounded, and slow or
//! idle connections are closed by the server's timeouts (issue: hardening).

use crate::support::{is_closed, read_response, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

const BODY: &str = "{\"name\":\"John\"}\n";

/// A JSON mucp call of `Helloworld.Call` with the framing headers given and `body` as sent.
fn call(version: &str, framing: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST / HTTP/{version}\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Helloworld.Call\r\nMicro-Service: helloworld\r\n{framing}\r\n"
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// `body` as one chunk and the last chunk.
fn chunked(body: &str) -> Vec<u8> {
    format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).into_bytes()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one reply on `stream` has `status` and `Connection: close`, and the server then
/// closes the connection without answering anything sent after the refused request.
#[track_caller]
fn assert_refused(stream: &mut TcpStream, what: &str, status: &str) {
    let reply = text(&read_response(stream));
    assert!(
        reply.starts_with(&format!("HTTP/1.1 {status}\r\n"))
            && reply.contains("\r\nConnection: close\r\n"),
        "{what}: {reply}"
    );
    let mut rest = Vec::new();
    let closed = stream.read_to_end(&mut rest).is_ok();
    assert!(closed, "{what}: the connection stays open");
    assert!(!text(&rest).contains("HTTP/1.1"), "{what}: {}", text(&rest));
}

#[test]
fn ambiguous_framing_is_refused_and_the_connection_closed() {
    let server = Server::greeter(&[]);
    let length = format!("Content-Length: {}\r\n", BODY.len());
    let refused = [
        (
            "Content-Length with Transfer-Encoding",
            "1.1",
            format!("{length}Transfer-Encoding: chunked\r\n"),
            chunked(BODY),
            "400 Bad Request",
        ),
        (
            "Transfer-Encoding with Content-Length",
            "1.1",
            format!("Transfer-Encoding: chunked\r\n{length}"),
            chunked(BODY),
            "400 Bad Request",
        ),
        (
            "two different Content-Lengths",
            "1.1",
            format!("{length}Content-Length: 3\r\n"),
            BODY.into(),
            "400 Bad Request",
        ),
        (
            "a Content-Length list that disagrees",
            "1.1",
            format!("Content-Length: {}, 3\r\n", BODY.len()),
            BODY.into(),
            "400 Bad Request",
        ),
        (
            "a signed Content-Length",
            "1.1",
            format!("Content-Length: +{}\r\n", BODY.len()),
            BODY.into(),
            "400 Bad Request",
        ),
        (
            "a coding that only contains chunked",
            "1.1",
            "Transfer-Encoding: xchunked\r\n".into(),
            chunked(BODY),
            "400 Bad Request",
        ),
        (
            "chunked that is not the last coding",
            "1.1",
            "Transfer-Encoding: chunked, identity\r\n".into(),
            chunked(BODY),
            "400 Bad Request",
        ),
        (
            "chunked twice",
            "1.1",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n".into(),
            chunked(BODY),
            "400 Bad Request",
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            "1.0",
            "Transfer-Encoding: chunked\r\n".into(),
            chunked(BODY),
            "400 Bad Request",
        ),
        (
            "a transfer coding the server does not know",
            "1.1",
            "Transfer-Encoding: gzip, chunked\r\n".into(),
            chunked(BODY),
            "501 Not Implemented",
        ),
    ];
    for (what, version, framing, body, status) in refused {
        let mut stream = server.connect();
        // A second, well-framed request right behind: a server that misreads the first
        // one's end would answer it (the smuggled request).
        let mut bytes = call(version, &framing, &body);
        bytes.extend_from_slice(&call("1.1", &length, BODY.as_bytes()));
        stream.write_all(&bytes).unwrap();
        assert_refused(&mut stream, what, status);
    }
    // What RFC 9112 lets a server accept still works, on a connection kept open.
    let mut stream = server.connect();
    for framing in [
        format!("{length}{length}"),
        format!("Content-Length: {0}, {0}\r\n", BODY.len()),
    ] {
        stream
            .write_all(&call("1.1", &framing, BODY.as_bytes()))
            .unwrap();
        let reply = text(&read_response(&mut stream));
        assert!(
            reply.ends_with("{\"msg\":\"Hello John\"}\n"),
            "{framing}: {reply}"
        );
    }
    for coding in ["chunked", "Chunked"] {
        let framing = format!("Transfer-Encoding: {coding}\r\n");
        stream
            .write_all(&call("1.1", &framing, &chunked(BODY)))
            .unwrap();
        let reply = text(&read_response(&mut stream));
        assert!(
            reply.ends_with("{\"msg\":\"Hello John\"}\n"),
            "{coding}: {reply}"
        );
    }
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let server = Server::greeter(&["--max-message-size", "1MiB"]);
    let mut stream = server.connect();
    let head = call(
        "1.1",
        &format!("Expect: 100-continue\r\nContent-Length: {}\r\n", BODY.len()),
        b"",
    );
    stream.write_all(&head).unwrap();
    let mut interim = [0u8; 25];
    stream
        .read_exact(&mut interim)
        .expect("100 Continue before the body");
    assert_eq!(text(&interim), "HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(BODY.as_bytes()).unwrap();
    let reply = text(&read_response(&mut stream));
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(reply.ends_with("{\"msg\":\"Hello John\"}\n"), "{reply}");

    // A body over --max-message-size is refused from its head: no 100, the final answer,
    // and the connection closed, so the client never sends the body.
    let head = call(
        "1.1",
        "Expect: 100-continue\r\nContent-Length: 2000000\r\n",
        b"",
    );
    stream.write_all(&head).unwrap();
    let reply = text(&read_response(&mut stream));
    assert!(
        reply.starts_with("HTTP/1.1 200 OK\r\n") && reply.contains("\"code\":413"),
        "{reply}"
    );
    assert!(is_closed(&mut stream));

    // curl sends Expect: 100-continue for large bodies and waits for the 100.
    let dir = tempfile::tempdir().unwrap();
    for (size, expected) in [(900_000, "Hello John"), (1_100_000, "\"code\":413")] {
        let file = dir.path().join(format!("body-{size}.json"));
        let name = "x".repeat(size);
        std::fs::write(&file, format!("{{\"name\":\"{name}\"}}")).unwrap();
        let output = Command::new("curl")
            .args(["-sS", "-v", "--max-time", "20", "--data-binary"])
            .arg(format!("@{}", file.display()))
            .args([
                "-H",
                "Content-Type: application/json",
                "-H",
                "Micro-Endpoint: Helloworld.Call",
                "-H",
                "Expect: 100-continue",
                &format!("http://{}/", server.address),
            ])
            .output()
            .expect("curl runs (apt-get install curl)");
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(
            stdout.contains(expected) || stderr.contains(expected),
            "{size} bytes: {stdout} {stderr}"
        );
        // The 100 comes only for a body the server will read.
        let continued = stderr.contains("< HTTP/1.1 100 Continue");
        assert_eq!(continued, size < 1_000_000, "{size} bytes: {stderr}");
    }
}

#[test]
fn chunked_trailers_and_extensions_are_bounded() {
    let server = Server::greeter(&[]);
    let framing = "Transfer-Encoding: chunked\r\n";
    // 100 KiB of trailer fields, over the 64 KiB head limit: fields too large, 431.
    let field = format!("X-Trailer: {}\r\n", "t".repeat(1000));
    let trailers = format!(
        "{:x}\r\n{BODY}\r\n0\r\n{}\r\n",
        BODY.len(),
        field.repeat(100)
    );
    // One 20 KiB extension, and many small ones adding up to 24 KiB: the 16 KiB limit
    // on a body's extensions is a framing error, 400.
    let long_extension = format!("1;e={}\r\n{{\r\n0\r\n\r\n", "x".repeat(20 * 1024));
    let many_extensions = format!("{}0\r\n\r\n", "1;ext=123456789\r\n \r\n".repeat(2000));
    for (what, body, status) in [
        (
            "100 KiB of trailers",
            trailers,
            "431 Request Header Fields Too Large",
        ),
        (
            "a 20 KiB chunk extension",
            long_extension,
            "400 Bad Request",
        ),
        ("2,000 chunk extensions", many_extensions, "400 Bad Request"),
    ] {
        let mut stream = server.connect();
        let mut bytes = call("1.1", framing, body.as_bytes());
        bytes.extend_from_slice(&call("1.1", "Content-Length: 16\r\n", BODY.as_bytes()));
        stream.write_all(&bytes).unwrap();
        assert_refused(&mut stream, what, status);
    }

    // Within the limits: a 3 MiB body in 1,000-byte chunks, some with an extension, and
    // 60 KiB of trailers, all accepted on one kept-alive connection.
    let name = "n".repeat(3 << 20);
    let json = format!("{{\"name\":\"{name}\"}}");
    let mut body = String::new();
    for (index, piece) in json.as_bytes().chunks(1000).enumerate() {
        let extension = if index % 100 == 0 { ";part=yes" } else { "" };
        body.push_str(&format!("{:x}{extension}\r\n", piece.len()));
        body.push_str(std::str::from_utf8(piece).unwrap());
        body.push_str("\r\n");
    }
    body.push_str(&format!("0\r\n{}\r\n", field.repeat(60)));
    let mut stream = server.connect();
    for _ in 0..2 {
        stream
            .write_all(&call("1.1", framing, body.as_bytes()))
            .unwrap();
        let reply = text(&read_response(&mut stream));
        assert!(
            reply.ends_with("{\"msg\":\"Hello John\"}\n"),
            "{}",
            &reply[..reply.len().min(500)]
        );
    }
}
