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
