//! `rmicro serve`'s gRPC as the wire carries it, asserted byte for byte from a raw
//! client: the reply's content type and message encoding follow the request's
//! (`application/grpc+json` answers JSON), a gzipped request gets gzipped reply messages
//! (compressed flag and bytes, not just the header), health `Watch` sends NOT_SERVING
//! when the server is told to stop, and a malformed HEADERS frame resets only its own
//! stream while the connection's other streams, and new ones, go on.

use crate::h2_frames::{self, Event};
use crate::support::Server;
use h2::RecvStream;
use http::HeaderMap;
use std::io::{Read, Write};

const HELLO: &str = "/greeter.Greeter/Hello";
/// greeter.Request {name: "John"} and the greeter fixture's answer to it, in protobuf.
const JOHN: &[u8] = b"\x0a\x04John";
const HELLO_JOHN: &[u8] = b"\x0a\x0aHello John";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A gRPC message with its length prefix, gzipped (compressed flag 1) when `gzip`.
pub fn frame(message: &[u8], gzip: bool) -> Vec<u8> {
    let body = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(message).unwrap();
        encoder.finish().unwrap()
    } else {
        message.to_vec()
    };
    let mut framed = vec![u8::from(gzip)];
    framed.extend((body.len() as u32).to_be_bytes());
    framed.extend(body);
    framed
}

/// Opens a gRPC stream to `path` with `headers` (besides `te: trailers`), sends `body`
/// (the length prefixes included) and ends the request; returns the reply's headers and
/// body.
async fn open(
    address: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (HeaderMap, RecvStream) {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut request =
        http::Request::post(format!("http://{address}{path}")).header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (response, mut send) = client
        .send_request(request.body(()).unwrap(), false)
        .unwrap();
    send.send_data(bytes::Bytes::copy_from_slice(body), true)
        .unwrap();
    let (parts, reply) = response.await.unwrap().into_parts();
    assert_eq!(parts.status, 200);
    (parts.headers, reply)
}

/// The next message of a reply: its compressed flag and its bytes as sent.
async fn next_message(body: &mut RecvStream, buffer: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    loop {
        if buffer.len() >= 5 {
            let length = u32::from_be_bytes(buffer[1..5].try_into().unwrap()) as usize;
            if buffer.len() >= 5 + length {
                let message = buffer[5..5 + length].to_vec();
                let flag = buffer[0];
                buffer.drain(..5 + length);
                return Some((flag, message));
            }
        }
        match body.data().await {
            Some(data) => {
                let data = data.unwrap();
                let _ = body.flow_control().release_capacity(data.len());
                buffer.extend_from_slice(&data);
            }
            None => {
                assert!(buffer.is_empty(), "the reply ended inside a message");
                return None;
            }
        }
    }
}

/// A whole reply as the wire carried it.
pub struct Reply {
    pub headers: HeaderMap,
    /// Each message's compressed flag and bytes.
    pub messages: Vec<(u8, Vec<u8>)>,
    /// Empty for a trailers-only reply (its status is among the headers).
    pub trailers: HeaderMap,
}

impl Reply {
    /// The headers that carry the status: the trailers, or the headers of a
    /// trailers-only reply.
    pub fn ending(&self) -> &HeaderMap {
        match self.headers.contains_key("grpc-status") {
            true => &self.headers,
            false => &self.trailers,
        }
    }

    fn status(&self) -> &str {
        self.ending()["grpc-status"].to_str().unwrap()
    }
}

/// One request (`body` holds its length-prefixed messages) and the whole reply.
pub async fn exchange(address: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let (headers, mut body) = open(address, path, headers, body).await;
    let mut buffer = Vec::new();
    let mut messages = Vec::new();
    while let Some(message) = next_message(&mut body, &mut buffer).await {
        messages.push(message);
    }
    let trailers = body.trailers().await.unwrap().unwrap_or_default();
    Reply {
        headers,
        messages,
        trailers,
    }
}

#[test]
fn the_reply_is_in_the_content_type_and_encoding_of_the_request() {
    let server = Server::greeter(&["--no-register"]);
    // (request content type, its message, the reply's content type, its message)
    let cases: [(&str, &[u8], &str, &[u8]); 3] = [
        ("application/grpc", JOHN, "application/grpc", HELLO_JOHN),
        (
            "application/grpc+proto",
            JOHN,
            "application/grpc",
            HELLO_JOHN,
        ),
        (
            "application/grpc+json",
            br#"{"name":"John"}"#,
            "application/grpc+json",
            // The JSON of every rmicro reply, go-micro's, ends with a newline.
            b"{\"msg\":\"Hello John\"}\n",
        ),
    ];
    let runtime = runtime();
    for (asked, message, answered, reply_message) in cases {
        let headers = [("content-type", asked)];
        let reply = runtime.block_on(exchange(
            &server.address,
            HELLO,
            &headers,
            &frame(message, false),
        ));
        assert_eq!(reply.headers["content-type"], answered, "{asked}");
        assert_eq!(reply.messages, [(0, reply_message.to_vec())], "{asked}");
        assert_eq!(reply.status(), "0", "{asked}");
    }
}

#[test]
fn a_gzipped_request_gets_gzipped_reply_messages() {
    let server = Server::greeter(&["--no-register"]);
    let runtime = runtime();
    for gzip in [false, true] {
        let mut headers = vec![("content-type", "application/grpc")];
        if gzip {
            headers.push(("grpc-encoding", "gzip"));
        }
        let reply = runtime.block_on(exchange(
            &server.address,
            HELLO,
            &headers,
            &frame(JOHN, gzip),
        ));
        assert_eq!(reply.status(), "0", "gzip {gzip}");
        let encoding = reply.headers.get("grpc-encoding");
        assert_eq!(encoding.is_some_and(|value| value == "gzip"), gzip);
        let [(flag, bytes)] = &reply.messages[..] else {
            panic!("one reply message expected: {:?}", reply.messages);
        };
        assert_eq!(*flag, u8::from(gzip), "gzip {gzip}");
        let message = if gzip {
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut inflated)
                .unwrap_or_else(|error| panic!("the reply is not gzip ({error}): {bytes:02x?}"));
            inflated
        } else {
            bytes.clone()
        };
        assert_eq!(message, HELLO_JOHN, "gzip {gzip}");
    }
}

#[test]
fn health_watch_sends_not_serving_when_the_server_stops() {
    let server = Server::greeter(&["--no-register"]);
    // HealthCheckResponse {status: SERVING (1)} and {status: NOT_SERVING (2)}.
    let (serving, not_serving) = (vec![0x08, 0x01], vec![0x08, 0x02]);
    runtime().block_on(async {
        // HealthCheckRequest {service: ""} (the server as a whole) is the empty message.
        let headers = [("content-type", "application/grpc")];
        let (_, mut body) = open(
            &server.address,
            "/grpc.health.v1.Health/Watch",
            &headers,
            &frame(b"", false),
        )
        .await;
        let mut buffer = Vec::new();
        assert_eq!(
            next_message(&mut body, &mut buffer).await,
            Some((0, serving))
        );
        // While the server serves, the watch has nothing more to say.
        let quiet = std::time::Duration::from_millis(300);
        let early = tokio::time::timeout(quiet, next_message(&mut body, &mut buffer)).await;
        assert!(early.is_err(), "a second message while serving: {early:?}");
        server.stop();
        assert_eq!(
            next_message(&mut body, &mut buffer).await,
            Some((0, not_serving))
        );
        assert_eq!(next_message(&mut body, &mut buffer).await, None);
        let trailers = body.trailers().await.unwrap().unwrap();
        assert_eq!(trailers["grpc-status"], "0");
    });
    let (status, log) = server.wait();
    assert!(status.success(), "{status}: {log}");
}

/// The fields of a request for `path` as gRPC sends them.
pub fn request_fields(path: &str) -> Vec<(&str, &str)> {
    vec![
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "rmicro.test"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
}

/// What the server sent on one stream.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    pub headers: Vec<(String, String)>,
    pub data: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    pub reset: Option<u32>,
    pub ended: bool,
}

/// Reads frames until every stream of `streams` has ended (END_STREAM or RST_STREAM);
/// a GOAWAY fails the test.
pub fn read_streams(connection: &mut h2_frames::Connection, streams: &[u32]) -> Vec<Seen> {
    let mut seen: Vec<Seen> = streams.iter().map(|_| Seen::default()).collect();
    while seen.iter().any(|stream| !stream.ended) {
        let event = connection.next();
        let id = match &event {
            Event::Headers { stream, .. }
            | Event::Data { stream, .. }
            | Event::Reset { stream, .. } => *stream,
            Event::GoAway { code } => panic!("GOAWAY ({code}) with streams open: {seen:?}"),
        };
        let index = streams.iter().position(|stream| *stream == id);
        let stream = &mut seen[index.unwrap_or_else(|| panic!("a frame on stream {id}"))];
        match event {
            Event::Headers {
                fields, end_stream, ..
            } => {
                match stream.headers.is_empty() {
                    true => stream.headers = fields,
                    false => stream.trailers = fields,
                }
                stream.ended |= end_stream;
            }
            Event::Data {
                bytes, end_stream, ..
            } => {
                stream.data.extend(bytes);
                stream.ended |= end_stream;
            }
            Event::Reset { code, .. } => {
                stream.reset = Some(code);
                stream.ended = true;
            }
            Event::GoAway { .. } => unreachable!("panicked above"),
        }
    }
    seen
}

/// A successful unary reply of `message`: headers, the message, OK trailers.
pub fn ok_reply(message: &[u8]) -> Seen {
    let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    };
    Seen {
        headers: fields(&[(":status", "200"), ("content-type", "application/grpc")]),
        data: frame(message, false),
        trailers: fields(&[("grpc-status", "0")]),
        reset: None,
        ended: true,
    }
}

#[test]
fn a_malformed_headers_frame_resets_only_its_stream_on_one_connection() {
    let server = Server::greeter(&["--no-register"]);
    let mut connection = h2_frames::Connection::open(&server.address);
    // Stream 1: Greeter.Hello {name: "slow"} (answered after 400 ms), its message sent in
    // two halves around a malformed stream, which so arrives while stream 1 is open.
    let slow = frame(b"\x0a\x04slow", false);
    connection.headers(1, &request_fields(HELLO), false);
    connection.data(1, &slow[..3], false);
    // Stream 3: no :path (RFC 9113 §8.3.1).
    let mut no_path = request_fields(HELLO);
    no_path.retain(|(name, _)| *name != ":path");
    connection.headers(3, &no_path, true);
    connection.data(1, &slow[3..], true);
    // Stream 5, while stream 1's handler runs: a connection-specific field (§8.2.2).
    let mut hop_by_hop = request_fields(HELLO);
    hop_by_hop.push(("connection", "keep-alive"));
    connection.headers(5, &hop_by_hop, true);

    let seen = read_streams(&mut connection, &[1, 3, 5]);
    let reset = Seen {
        reset: Some(h2_frames::PROTOCOL_ERROR),
        ended: true,
        ..Seen::default()
    };
    assert_eq!(seen[1], reset, "stream 3");
    assert_eq!(seen[2], reset, "stream 5");
    assert_eq!(seen[0], ok_reply(b"\x0a\x0aHello slow"), "stream 1");

    // The connection still takes new streams.
    connection.headers(7, &request_fields(HELLO), false);
    connection.data(7, &frame(JOHN, false), true);
    let seen = read_streams(&mut connection, &[7]);
    assert_eq!(seen[0], ok_reply(HELLO_JOHN), "stream 7");
}
