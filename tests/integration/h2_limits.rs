//! HTTP/2 limits set by flags or bounded by rmicro (issue: hardening): the server's
//! keepalive (`--keepalive-time`, `--keepalive-timeout`), and how large a reply header
//! block `rmicro call` takes.

use std::time::{Duration, Instant};

fn echo_server(extra: &[&str]) -> crate::support::Server {
    let proto = crate::support::root().join("interop/grpc/echo.proto");
    let mut args = vec!["--proto", proto.to_str().unwrap(), "--no-register"];
    args.extend_from_slice(extra);
    crate::support::Server::start(&args)
}

/// What a raw HTTP/2 client that answers SETTINGS but never a PING sees within `limit`:
/// when the first PING came, and when the server closed the connection (GOAWAY or EOF).
fn ping_and_close(address: &str, limit: Duration) -> (Option<Duration>, Option<Duration>) {
    use std::io::{Read, Write};
    let started = Instant::now();
    let mut tcp = std::net::TcpStream::connect(address).unwrap();
    tcp.set_read_timeout(Some(limit)).unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    let mut pinged = None;
    loop {
        let mut head = [0u8; 9];
        if tcp.read_exact(&mut head).is_err() {
            let closed = (started.elapsed() < limit).then(|| started.elapsed());
            return (pinged, closed);
        }
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0; length];
        tcp.read_exact(&mut payload).unwrap();
        match (head[3], head[4] & 1) {
            (0x4, 0) => tcp.write_all(b"\0\0\0\x04\x01\0\0\0\0").unwrap(),
            (0x6, 0) => {
                pinged.get_or_insert(started.elapsed());
            }
            (0x7, _) => return (pinged, Some(started.elapsed())),
            _ => {}
        }
    }
}

#[test]
fn http2_keepalive_is_set_by_serve_flags() {
    let server = echo_server(&["--keepalive-time", "500ms", "--keepalive-timeout", "700ms"]);
    let (pinged, closed) = ping_and_close(&server.address, Duration::from_secs(5));
    let pinged = pinged.expect("a PING after 500 ms of silence");
    let closed = closed.expect("the connection closed after an unanswered PING");
    assert!(
        pinged >= Duration::from_millis(400) && pinged < Duration::from_secs(2),
        "{pinged:?}"
    );
    assert!(
        closed >= pinged + Duration::from_millis(600),
        "{pinged:?} {closed:?}"
    );
    drop(server);
    let server = echo_server(&["--keepalive-time", "0"]);
    let (pinged, closed) = ping_and_close(&server.address, Duration::from_secs(2));
    assert_eq!(
        (pinged, closed),
        (None, None),
        "--keepalive-time 0 never pings"
    );
    let output = crate::support::run(&["serve", "--keepalive-timeout", "0"]);
    crate::support::assert_exit(&output, 2);
}

/// A raw HTTP/2 server for one connection that answers its first request with a header
/// block of `header_bytes` (in 16 KiB frames), then a message and status 0.
fn huge_headers_server(header_bytes: usize) -> String {
    use std::io::{Read, Write};
    let (address, _served) = crate::support::peer(move |mut tcp| {
        let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
            let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
            frame.extend([kind, flags]);
            frame.extend(stream.to_be_bytes());
            frame.extend(payload);
            frame
        };
        let mut preface = [0u8; 24];
        let _ = tcp.read_exact(&mut preface);
        let _ = tcp.write_all(&frame(0x4, 0, 0, &[]));
        loop {
            let mut head = [0u8; 9];
            if tcp.read_exact(&mut head).is_err() {
                return;
            }
            let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; length];
            let _ = tcp.read_exact(&mut payload);
            match (head[3], head[4]) {
                (0x4, flags) if flags & 1 == 0 => {
                    let _ = tcp.write_all(&frame(0x4, 1, 0, &[]));
                }
                // The request's end: answer stream 1.
                (0x0, flags) if flags & 1 == 1 => break,
                _ => {}
            }
        }
        let mut block = Vec::new();
        crate::h2_frames::literal(&mut block, ":status", "200");
        crate::h2_frames::literal(&mut block, "content-type", "application/grpc");
        let value = "v".repeat(4000);
        let mut n = 0;
        while block.len() < header_bytes {
            crate::h2_frames::literal(&mut block, &format!("x-big-{n}"), &value);
            n += 1;
        }
        let mut pieces = block.chunks(16 * 1024).peekable();
        let mut first = true;
        while let Some(piece) = pieces.next() {
            let end_headers = if pieces.peek().is_none() { 0x4 } else { 0 };
            let kind = if first { 0x1 } else { 0x9 };
            first = false;
            if tcp.write_all(&frame(kind, end_headers, 1, piece)).is_err() {
                return;
            }
        }
        let _ = tcp.write_all(&frame(
            0x0,
            0,
            1,
            &crate::grpc_wire::frame(b"\x0a\x02hi", false),
        ));
        let mut trailers = Vec::new();
        crate::h2_frames::literal(&mut trailers, "grpc-status", "0");
        let _ = tcp.write_all(&frame(0x1, 0x5, 1, &trailers));
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest);
    });
    address
}

#[test]
fn a_reply_header_block_past_1_mib_is_refused_by_the_client() {
    let proto = crate::support::fixture("greeter.proto");
    let call = |address: &str| {
        crate::support::run(&[
            "call",
            "--proto",
            &proto,
            "--address",
            &format!("grpc://{address}"),
            "--timeout",
            "5s",
            "greeter.Greeter.Hello",
            "{}",
        ])
    };
    // 900 KB of headers: within the bound, the call succeeds.
    let output = call(&huge_headers_server(900 * 1000));
    crate::support::assert_exit(&output, 0);
    assert_eq!(crate::support::json(&output)["msg"], "hi");
    // 2 MB: refused, not held.
    let output = call(&huge_headers_server(2 * 1000 * 1000));
    assert_ne!(output.status.code(), Some(0), "{output:?}");
    eprintln!("{}", crate::support::stderr(&output));
}
