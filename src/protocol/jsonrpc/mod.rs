//! Go's `net/rpc` with its JSON codec (`net/rpc/jsonrpc`, spec §9): a stream of JSON
//! objects over raw TCP, `{"method","params":[x],"id"}` in and `{"id","result","error"}`
//! out, many calls in flight on one connection. This module holds what both sides share:
//! finding where one JSON value ends in a byte stream, and Go's error texts.

pub mod client;
pub mod server;

use bytes::{Bytes, BytesMut};

/// Finds complete JSON values in a growing buffer without re-reading bytes it has seen.
#[derive(Default)]
pub struct ValueScanner {
    /// Bytes of the current value already scanned.
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// What [`ValueScanner::next_value`] found at the front of the buffer.
#[derive(Debug, PartialEq)]
pub enum Scanned {
    /// A whole object or array (leading whitespace dropped).
    Value(Bytes),
    /// Only part of a value (or nothing) so far.
    Incomplete,
    /// The next value is not an object or array — never a request or a response.
    NotContainer,
}

impl ValueScanner {
    /// Takes the next complete object or array off the front of `buffer`.
    pub fn next_value(&mut self, buffer: &mut BytesMut) -> Scanned {
        if self.scanned == 0 {
            let blank = buffer
                .iter()
                .take_while(|byte| byte.is_ascii_whitespace())
                .count();
            let _ = buffer.split_to(blank);
            match buffer.first() {
                None => return Scanned::Incomplete,
                Some(b'{' | b'[') => {}
                Some(_) => return Scanned::NotContainer,
            }
        }
        for (offset, &byte) in buffer[self.scanned..].iter().enumerate() {
            if self.in_string {
                match byte {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        let end = self.scanned + offset + 1;
                        *self = ValueScanner::default();
                        return Scanned::Value(buffer.split_to(end).freeze());
                    }
                }
                _ => {}
            }
        }
        self.scanned = buffer.len();
        Scanned::Incomplete
    }

    /// Bytes of the value in progress (for the size limit).
    pub fn pending(&self) -> usize {
        self.scanned
    }
}

/// Go's `rpc: service/method request ill-formed: …` and friends (net/rpc server.go).
pub fn ill_formed(service_method: &str) -> String {
    format!("rpc: service/method request ill-formed: {service_method}")
}

pub fn no_service(service_method: &str) -> String {
    format!("rpc: can't find service {service_method}")
}

pub fn no_method(service_method: &str) -> String {
    format!("rpc: can't find method {service_method}")
}

pub const MISSING_PARAMS: &str = "jsonrpc: request body missing params";

/// The JSON kind name Go's `encoding/json` uses in "cannot unmarshal <kind> into …".
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(chunks: &[&str]) -> Vec<Scanned> {
        let mut scanner = ValueScanner::default();
        let mut buffer = BytesMut::new();
        let mut found = Vec::new();
        for chunk in chunks {
            buffer.extend_from_slice(chunk.as_bytes());
            loop {
                match scanner.next_value(&mut buffer) {
                    Scanned::Incomplete => break,
                    other => {
                        let stop = other == Scanned::NotContainer;
                        found.push(other);
                        if stop {
                            return found;
                        }
                    }
                }
            }
        }
        found
    }

    fn value(text: &str) -> Scanned {
        Scanned::Value(Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn values_split_anywhere_are_found_whole() {
        let found = values(&[r#" {"a":"}\"{","b":[1,{"#, r#"}]}"#, "\n[2]{", "}"]);
        assert_eq!(
            found,
            vec![
                value(r#"{"a":"}\"{","b":[1,{}]}"#),
                value("[2]"),
                value("{}")
            ]
        );
    }

    #[test]
    fn a_scalar_is_not_a_request() {
        assert_eq!(values(&["{} 42"]), vec![value("{}"), Scanned::NotContainer]);
    }
}
