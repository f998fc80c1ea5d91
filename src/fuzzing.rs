//! Entry points for the cargo-fuzz targets in `fuzz/`: each takes the fuzzer's bytes,
//! drives one parser or conversion with them, and panics only on a bug (a panic inside,
//! or a broken invariant checked here). Built only with `--cfg fuzzing`, which
//! `cargo fuzz` sets; the ordinary build leaves this module out.

use crate::codec::{self, budget, Codec};
use crate::handler::{HandlerRules, Journal, Router, RouterOptions};
use crate::protocol::grpc::Deframer;
use crate::protocol::http1::HttpConnection;
use crate::protocol::jsonrpc::{Scanned, ValueScanner};
use crate::protocol::Timeouts;
use crate::schema::Schema;
use bytes::BytesMut;
use prost_reflect::{DescriptorPool, MessageDescriptor};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The schema the targets decode with: every scalar type, packed and not, maps, oneofs,
/// nesting, and the well-known types with JSON forms of their own.
const PROTO: &str = r#"
syntax = "proto3";
package fuzz;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

enum Kind { KIND_UNSPECIFIED = 0; KIND_A = 1; KIND_B = 2; }

message Scalars {
  double f_double = 1; float f_float = 2; int32 f_int32 = 3; int64 f_int64 = 4;
  uint32 f_uint32 = 5; uint64 f_uint64 = 6; sint32 f_sint32 = 7; sint64 f_sint64 = 8;
  fixed32 f_fixed32 = 9; fixed64 f_fixed64 = 10; sfixed32 f_sfixed32 = 11;
  sfixed64 f_sfixed64 = 12; bool f_bool = 13; string f_string = 14; bytes f_bytes = 15;
  Kind f_kind = 16;
  repeated int32 r_int32 = 17; repeated double r_double = 18; repeated sint64 r_sint64 = 19;
  repeated fixed32 r_fixed32 = 20; repeated bool r_bool = 21; repeated Kind r_kind = 22;
  repeated string r_string = 23; repeated bytes r_bytes = 24;
  repeated int64 u_int64 = 25 [packed = false];
  optional int32 o_int32 = 26;
}

message Wkt {
  google.protobuf.Timestamp timestamp = 1; google.protobuf.Duration duration = 2;
  google.protobuf.Any any = 3; google.protobuf.Struct struct = 4;
  google.protobuf.Value value = 5; google.protobuf.ListValue list = 6;
  google.protobuf.FieldMask mask = 7; google.protobuf.Empty empty = 8;
  google.protobuf.Int64Value int64_value = 9; google.protobuf.StringValue string_value = 10;
  google.protobuf.BytesValue bytes_value = 11; google.protobuf.DoubleValue double_value = 12;
  google.protobuf.BoolValue bool_value = 13; google.protobuf.UInt64Value uint64_value = 14;
  repeated google.protobuf.Timestamp timestamps = 15;
  repeated google.protobuf.Any anys = 16;
}

message Tree {
  string name = 1;
  repeated Tree children = 2;
  map<string, Tree> named = 3;
  map<int64, string> labels = 4;
  map<bool, Kind> flags = 5;
  oneof choice { Scalars scalars = 6; Wkt wkt = 7; string text = 8; }
}

service Fuzz {
  rpc Scalar(Scalars) returns (Scalars);
  rpc Known(Wkt) returns (Wkt);
  rpc Grow(Tree) returns (Tree);
}
"#;

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rmicro-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        std::fs::write(dir.join("fuzz.proto"), PROTO).expect("the fuzz schema written");
        let set = protox::compile(["fuzz.proto"], [&dir]).expect("the fuzz schema compiles");
        let _ = std::fs::remove_dir_all(&dir);
        DescriptorPool::from_file_descriptor_set(set).expect("the fuzz schema loads")
    })
}

/// The message a first byte picks.
fn message(selector: u8) -> MessageDescriptor {
    let name = ["fuzz.Scalars", "fuzz.Wkt", "fuzz.Tree"][selector as usize % 3];
    pool().get_message_by_name(name).expect("a fuzz message")
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // No timeouts are set, and the scripted peer's EOF ends every wait at once.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// The router `rmicro serve` builds for the fuzz schema with no handlers file: every
/// method answers the empty reply, after its request was decoded.
fn router() -> Arc<Router> {
    static ROUTER: OnceLock<Arc<Router>> = OnceLock::new();
    ROUTER
        .get_or_init(|| {
            let schema = Schema::from_pool(pool().clone());
            let options = RouterOptions {
                name: "fuzz".into(),
                version: "latest".into(),
                strict: false,
                decode_budget: 64 << 20,
                // No journal: a fuzzer's millions of inputs would only fill it.
                journal: Arc::new(Journal::new(0, None).expect("a journal of nothing")),
            };
            Arc::new(Router::build(&schema, HandlerRules::default(), options).expect("a router"))
        })
        .clone()
}

/// A peer that sends `data` in pieces of a size the fuzzer picks, then EOF, and takes
/// whatever is written to it.
struct Scripted<'a> {
    data: &'a [u8],
    piece: usize,
}

impl<'a> Scripted<'a> {
    /// The first byte sets the piece size (1 to 256 bytes); the rest is sent.
    fn new(data: &'a [u8]) -> Scripted<'a> {
        match data.split_first() {
            Some((piece, rest)) => Scripted {
                data: rest,
                piece: *piece as usize + 1,
            },
            None => Scripted { data, piece: 1 },
        }
    }
}

impl AsyncRead for Scripted<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.piece.min(self.data.len()).min(buffer.remaining());
        let (piece, rest) = self.data.split_at(n);
        buffer.put_slice(piece);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

const MAX_BODY: usize = 64 * 1024;

/// HTTP/1.1 heads, bodies (Content-Length and chunked, with trailers and extensions),
/// requests and responses, read as a kept-alive connection reads them: no body over the
/// limit comes out.
pub fn http1(data: &[u8]) {
    let (response, data) = match data.split_first() {
        Some((flags, rest)) => (flags & 1 == 1, rest),
        None => return,
    };
    runtime().block_on(async {
        let mut connection = HttpConnection::new(Scripted::new(data), MAX_BODY);
        for _ in 0..64 {
            let read = match response {
                true => connection.read_response().await,
                false => connection.read_request().await,
            };
            let Ok(message) = read else { break };
            assert!(message.body.len() <= MAX_BODY, "a body over the limit");
            let _ = (
                message.status(),
                message.request_line(),
                message.header("Host"),
            );
        }
    });
}

/// The mucp front end: HTTP/1.1 requests routed, decoded and answered by the router.
pub fn mucp(data: &[u8]) {
    let router = router();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    runtime().block_on(async {
        let connection = HttpConnection::new(Scripted::new(data), MAX_BODY);
        let cors = crate::protocol::cors::Cors::default();
        crate::protocol::mucp::server::serve_connection(
            connection,
            router.as_ref(),
            &cors,
            stopped,
        )
        .await;
    });
}

/// JSON-RPC framing: values split off a byte stream as they arrive, then the whole front
/// end (headers, params as Go reads them, replies) over the same bytes.
pub fn jsonrpc(data: &[u8]) {
    let mut scripted = Scripted::new(data);
    let mut scanner = ValueScanner::default();
    let mut buffer = BytesMut::new();
    let mut sent = 0;
    while !scripted.data.is_empty() {
        let n = scripted.piece.min(scripted.data.len());
        buffer.extend_from_slice(&scripted.data[..n]);
        scripted.data = &scripted.data[n..];
        sent += n;
        loop {
            match scanner.next_value(&mut buffer) {
                Scanned::Value(value) => {
                    assert!(
                        !value.is_empty() && value.len() <= sent,
                        "a value out of nowhere"
                    );
                    assert!(
                        matches!(value[0], b'{' | b'['),
                        "a value that is not a container"
                    );
                }
                Scanned::Incomplete => break,
                Scanned::NotContainer => return,
            }
        }
        if scanner.pending() > MAX_BODY {
            return;
        }
    }
    let router = router();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    runtime().block_on(crate::protocol::jsonrpc::server::serve_connection(
        Scripted::new(data),
        "127.0.0.1:1",
        BytesMut::new(),
        router,
        MAX_BODY,
        Timeouts::default(),
        stopped,
    ));
}

/// gRPC's length-prefixed messages (gzip allowed or not, by the first byte), split off
/// bytes as they arrive: no message over the limit, and what is taken off is what came.
pub fn grpc_frames(data: &[u8]) {
    let Some((flags, rest)) = data.split_first() else {
        return;
    };
    let mut deframer = Deframer::new(MAX_BODY, flags & 1 == 1);
    let mut scripted = Scripted::new(rest);
    let mut taken = 0;
    let total = scripted.data.len();
    while !scripted.data.is_empty() {
        let n = scripted.piece.min(scripted.data.len());
        deframer.push(&scripted.data[..n]);
        scripted.data = &scripted.data[n..];
        loop {
            match deframer.next_message() {
                Ok(Some(message)) => {
                    assert!(message.len() <= MAX_BODY, "a message over the limit");
                    taken += 5 + message.len();
                    // Compressed messages inflate, the rest are as sent.
                    assert!(flags & 1 == 1 || taken <= total, "more taken than sent");
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = deframer.has_partial_message();
}

/// mDNS packets as the responder reads queries and the browser reads answers (records,
/// TXT payloads, the nodes they describe).
pub fn mdns(data: &[u8]) {
    crate::registry::mdns::fuzz_packet(data);
}

/// A request decoded from protobuf (or JSON, by the first byte) into one of the fuzz
/// messages and written as JSON, as an exec handler is given it and as `rmicro call`
/// shows a reply: never a panic, and JSON written on the wire reads back.
pub fn request_json(data: &[u8]) {
    let Some((selector, body)) = data.split_first() else {
        return;
    };
    let desc = message(*selector);
    let codec = match selector & 0x80 {
        0 => Codec::Protobuf,
        _ => Codec::Json,
    };
    let _ = budget::estimate(codec, &desc, body);
    if codec == Codec::Json {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            let _ = codec::from_go_json_value(&desc, value);
        }
    }
    let Ok(message) = codec::decode(codec, &desc, body) else {
        return;
    };
    let _ = codec::to_json_value(&message);
    let Ok(json) = codec::encode(Codec::Json, &message) else {
        return;
    };
    let again = codec::from_json_text(&desc, &json).unwrap_or_else(|error| {
        panic!(
            "the JSON written does not read back: {error}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    let _ = codec::encode(Codec::Protobuf, &again);
}
