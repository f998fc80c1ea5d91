//! HTTP/1.1 as a hostile client or a proxy in front of the server would speak it: request
//! framing that two parsers could read differently is refused (RFC 9112 §6), `Expect:
//! 100-continue` is answered, chunked trailers and extensions are bounded, and slow or
//! idle connections are closed by the server's timeouts (issue: hardening).

use crate::support::{assert_exit, fixture, is_closed, json, read_response, write_temp, Server};
use crate::tls::Certificates;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

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

/// A well-framed call with `BODY`.
fn hello() -> Vec<u8> {
    call(
        "1.1",
        &format!("Content-Length: {}\r\n", BODY.len()),
        BODY.as_bytes(),
    )
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
        bytes.extend_from_slice(&hello());
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
        bytes.extend_from_slice(&hello());
        stream.write_all(&bytes).unwrap();
        assert_refused(&mut stream, what, status);
    }

    // A line that never ends is refused once it is over the limit, not buffered.
    for (what, start, status) in [
        ("an endless chunk extension", "1;", "400 Bad Request"),
        (
            "an endless trailer field",
            "0\r\nX-Endless: ",
            "431 Request Header Fields Too Large",
        ),
    ] {
        let mut stream = server.connect();
        let mut bytes = call("1.1", framing, start.as_bytes());
        bytes.resize(bytes.len() + (1 << 20), b'e');
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

/// What a slow client saw: how long after it connected the server closed the connection
/// (`None`: still open after 20 s), and what the server sent.
struct Slow {
    closed_after: Option<Duration>,
    reply: String,
}

/// Connects, sends `prelude`, then `drip` one byte every 300 ms (if any) until the server
/// closes the connection or 20 s pass.
fn slow_client(address: &str, prelude: &[u8], drip: Option<u8>) -> JoinHandle<Slow> {
    let (address, prelude) = (address.to_owned(), prelude.to_vec());
    thread::spawn(move || {
        let started = Instant::now();
        let mut stream = TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream.write_all(&prelude).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let dripping = drip.map(|byte| {
            let (mut writer, done) = (stream.try_clone().unwrap(), done.clone());
            thread::spawn(move || {
                while !done.load(Ordering::Relaxed) && writer.write_all(&[byte]).is_ok() {
                    thread::sleep(Duration::from_millis(300));
                }
            })
        });
        let mut reply = Vec::new();
        let read = stream.read_to_end(&mut reply);
        // A reset after the server's close counts as the close (the last drip unread).
        let closed =
            read.is_ok() || matches!(&read, Err(e) if e.kind() == ErrorKind::ConnectionReset);
        done.store(true, Ordering::Relaxed);
        if let Some(dripping) = dripping {
            dripping.join().unwrap();
        }
        Slow {
            closed_after: closed.then(|| started.elapsed()),
            reply: text(&reply),
        }
    })
}

/// Sends `request` again and again for 3 s, 100 ms apart, each write the rest of one
/// request and the first half of the next, so that a request has always begun; each reply
/// (read by `reply`) must be Hello John.
fn half_sent_requests(stream: &mut TcpStream, request: &[u8], reply: fn(&mut TcpStream) -> String) {
    let half = request.len() / 2;
    let mut rest_and_next = request[half..].to_vec();
    rest_and_next.extend_from_slice(&request[..half]);
    stream.write_all(&request[..half]).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        thread::sleep(Duration::from_millis(100));
        stream.write_all(&rest_and_next).unwrap();
        let reply = reply(stream);
        assert!(
            reply.contains("Hello John"),
            "after {:?}: {reply}",
            started.elapsed()
        );
    }
}

#[test]
fn slow_clients_are_closed_by_the_header_and_body_timeouts_while_calls_go_on() {
    let timeouts = [
        "--header-timeout",
        "1s",
        "--body-timeout",
        "1s",
        "--idle-timeout",
        "30s",
    ];
    let server = Server::greeter(&timeouts);
    let certificates = Certificates::new();
    let tls_server = certificates.server(&timeouts);
    let (plain, tls) = (server.address.as_str(), tls_server.address.as_str());
    let body_wanted = call("1.1", "Content-Length: 100\r\n", b"");
    let timed_out = "HTTP/1.1 408 Request Timeout\r\n";
    // What each sends, and what it is told before the close.
    let slow = [
        (
            "a connection that sends nothing",
            slow_client(plain, b"", None),
            "",
        ),
        (
            "one byte, too few to tell the protocol",
            slow_client(plain, b"P", None),
            "",
        ),
        (
            "a head a byte at a time",
            slow_client(plain, b"POST / HTTP/1.1\r\nX-Slow: ", Some(b'a')),
            timed_out,
        ),
        (
            "a body a byte at a time",
            slow_client(plain, &body_wanted, Some(b'x')),
            timed_out,
        ),
        (
            "a JSON-RPC request a byte at a time",
            slow_client(
                plain,
                br#"{"method":"Greeter.Hello","params":[{"name":""#,
                Some(b'x'),
            ),
            r#"{"id":null,"result":null,"error":"rpc: server cannot decode request: the request did not arrive within 1s (--body-timeout)"}"#,
        ),
        (
            "a TLS connection that sends nothing",
            slow_client(tls, b"", None),
            "",
        ),
        (
            "a TLS ClientHello a byte at a time",
            slow_client(tls, b"\x16\x03\x01\x02\x00", Some(0)),
            "",
        ),
    ];

    // Meanwhile calls are answered, and kept-alive connections busy for three times the
    // timeouts, a request always half-sent, are not closed: the timeouts bound each
    // request, not the connection.
    let output = server.run(&["call", "Helloworld.Call", r#"{"name":"John"}"#]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], "Hello John");
    half_sent_requests(&mut server.connect(), &hello(), |stream| {
        text(&read_response(stream))
    });
    let jsonrpc = br#"{"method":"Helloworld.Call","params":[{"name":"John"}],"id":7}"#;
    half_sent_requests(&mut server.connect(), jsonrpc, |stream| {
        let mut line = Vec::new();
        let mut byte = [0u8];
        while line.last() != Some(&b'\n') {
            assert_eq!(
                stream.read(&mut byte).unwrap(),
                1,
                "closed after {}",
                text(&line)
            );
            line.push(byte[0]);
        }
        text(&line)
    });

    for (what, slow, expected) in slow {
        let Slow {
            closed_after,
            reply,
        } = slow.join().unwrap();
        let closed_after = closed_after.unwrap_or_else(|| panic!("{what}: still open after 20 s"));
        assert!(
            closed_after >= Duration::from_millis(900) && closed_after < Duration::from_secs(10),
            "{what}: closed after {closed_after:?}"
        );
        match expected.is_empty() {
            true => assert!(reply.is_empty(), "{what}: {reply}"),
            false => assert!(reply.starts_with(expected), "{what}: {reply}"),
        }
    }
}

/// One call of the 1.5 s endpoint over mucp.
fn slow_call_over_mucp(stream: &mut TcpStream) {
    let request = hello();
    stream.write_all(&request).unwrap();
    let reply = text(&read_response(stream));
    assert!(reply.ends_with("{\"msg\":\"Hello slowly\"}\n"), "{reply}");
}

/// The 1.5 s call and a quick one over JSON-RPC.
fn slow_calls_over_jsonrpc(stream: &mut TcpStream) {
    stream.write_all(b"{\"method\":\"Helloworld.Call\",\"params\":[{}],\"id\":1}\n{\"method\":\"Greeter.Hello\",\"params\":[{}],\"id\":2}\n").unwrap();
    let mut lines = BufReader::new(stream).lines();
    let replies = [(); 2].map(|()| lines.next().unwrap().unwrap());
    assert!(
        replies[0].contains("\"Hello\"") && replies[1].contains("Hello slowly"),
        "{replies:?}"
    );
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout_but_not_while_a_call_runs() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "handlers.json",
        br#"{"Helloworld.Call": {"delay": "1500ms", "reply": {"msg": "Hello slowly"}}, "Greeter.Hello": {"reply": {"msg": "Hello"}}}"#,
    );
    let server = Server::start(&[
        "--proto",
        &fixture("greeter.proto"),
        "--handlers",
        &handlers,
        "--idle-timeout",
        "1s",
        "--header-timeout",
        "30s",
    ]);
    // Each call outlasts the idle timeout, which does not run while a call is handled;
    // once the replies are out, the connection is closed a second later without a word.
    let protocols = [
        ("mucp", slow_call_over_mucp as fn(&mut TcpStream)),
        ("JSON-RPC", slow_calls_over_jsonrpc),
    ];
    for (protocol, exchange) in protocols {
        let mut stream = server.connect();
        exchange(&mut stream);
        let idle = Instant::now();
        let mut rest = Vec::new();
        stream
            .read_to_end(&mut rest)
            .unwrap_or_else(|error| panic!("{protocol}: still open: {error}"));
        assert!(rest.is_empty(), "{protocol}: {}", text(&rest));
        let after = idle.elapsed();
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(10),
            "{protocol}: closed after {after:?}"
        );
    }

    // Requests every 100 ms for three times the idle timeout keep a connection open.
    let mut busy = server.connect();
    let hello = text(&call("1.1", "Content-Length: 3\r\n", b"{}\n"))
        .replace("Helloworld.Call", "Greeter.Hello");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        busy.write_all(hello.as_bytes()).unwrap();
        let reply = text(&read_response(&mut busy));
        assert!(reply.ends_with("{\"msg\":\"Hello\"}\n"), "{reply}");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_timeouts_are_documented_with_their_defaults() {
    let output = crate::support::run(&["serve", "--help"]);
    assert_exit(&output, 0);
    let help = text(&output.stdout);
    for (flag, default) in [
        ("--header-timeout", "10s"),
        ("--body-timeout", "30s"),
        ("--idle-timeout", "60s"),
    ] {
        let at = help
            .find(flag)
            .unwrap_or_else(|| panic!("{flag} missing: {help}"));
        let until_next = &help[at..][..help[at + 2..]
            .find("\n  -")
            .map_or(help.len() - at, |end| end + 2)];
        assert!(
            until_next.contains(&format!("[default: {default}]")),
            "{until_next}"
        );
    }
}
