//! go-micro's RPC protocol ("mucp"): one HTTP/1.1 message per transport message, routing
//! and errors in `Micro-*` headers (spec §1–§4). `server` is the front end `rmicro serve`
//! runs per connection; `client` is the caller `rmicro call` uses.

pub mod body;
pub mod client;
pub mod server;

/// Reads the `Timeout` header: decimal nanoseconds (spec §2.1); unparsable → none.
pub fn parse_timeout(value: &str) -> Option<std::time::Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ns| *ns > 0)
        .map(std::time::Duration::from_nanos)
}

/// What `rmicro serve` answers (400) to a plain request to a stream endpoint, after the
/// endpoint's name: go-micro's own server would wait for the stream's first request for
/// ever (spec §5). rmicro's client knows its own server's refusal by it.
pub const PLAIN_REQUEST_TO_STREAM: &str =
    "streams: call it as a go-micro stream (Micro-Stream header), or over gRPC or Connect";
