//! How `rmicro call` shows a call, whatever its protocol or kind: reply messages as JSON
//! (indented or one line each) or raw as they arrive, or `--output envelope` (status,
//! headers, trailers and messages in one object at the end); with `-v`, labelled sections
//! on stderr (the metadata sent, response headers, trailers, the status); and the error
//! details of a failed call.

use crate::codec::details;
use crate::message::Metadata;
use crate::output;
use crate::protocol::{CallError, Pairs};
use crate::status::{Code, Status};
use prost_reflect::DescriptorPool;
use serde_json::{json, Map, Value};

/// How replies are shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// One JSON document per message, indented or on one line.
    Messages { pretty: bool },
    /// The messages' bytes as received.
    Raw,
    /// One object at the end.
    Envelope { pretty: bool },
}

/// `-v`: the metadata the call sends.
pub fn show_request(verbose: bool, metadata: &Metadata) {
    if verbose && metadata.iter().next().is_some() {
        eprintln!("> request metadata:");
        for (name, value) in metadata.iter() {
            eprintln!("> {name}: {value}");
        }
    }
}

/// `-v`: where the schema came from (not an attempt of the call).
pub fn show_schema_source(verbose: bool, source: &str) {
    if verbose {
        eprintln!("* schema from {source}");
    }
}

/// Shows one call's replies and ending.
pub struct Shower<'a> {
    shown: Shown,
    verbose: bool,
    /// For decoding error details of the schema's own types.
    schema: Option<&'a DescriptorPool>,
    /// Kept for the envelope.
    messages: Vec<Value>,
    headers_shown: bool,
    /// Print zero-valued fields too (`--emit-defaults`).
    pub emit_defaults: bool,
}

impl<'a> Shower<'a> {
    pub fn new(shown: Shown, verbose: bool, schema: Option<&'a DescriptorPool>) -> Shower<'a> {
        Shower {
            shown,
            verbose,
            schema,
            messages: Vec::new(),
            headers_shown: false,
            emit_defaults: false,
        }
    }

    /// Whether the response headers have been dealt with (so need not be fetched again).
    pub fn headers_shown(&self) -> bool {
        self.headers_shown
    }

    /// The response headers, once (they come before the first message).
    pub fn headers(&mut self, headers: &Pairs) {
        if self.verbose && !self.headers_shown && !headers.is_empty() {
            print_section("response headers", headers);
        }
        self.headers_shown = true;
    }

    /// One reply message, as JSON (`value`) or as the bytes received.
    pub fn message(&mut self, value: Value, raw: &[u8]) -> std::io::Result<()> {
        match self.shown {
            Shown::Messages { pretty } => output::print_json(&value, pretty)?,
            Shown::Raw => output::print_raw(raw)?,
            Shown::Envelope { .. } => {}
        }
        self.messages.push(value);
        Ok(())
    }

    /// The end of the call: trailers and status with `-v`, the envelope, error details.
    pub fn finish(
        &mut self,
        headers: &Pairs,
        trailers: &Pairs,
        result: &Result<(), CallError>,
    ) -> std::io::Result<()> {
        self.headers(headers);
        let status = match result {
            Ok(()) => Status::new(Code::Ok, ""),
            Err(CallError::Status(status)) => status.clone(),
            Err(error) => Status::new(Code::Unavailable, error.to_string()),
        };
        if self.verbose {
            if !trailers.is_empty() {
                print_section("response trailers", trailers);
            }
            match result {
                Ok(()) => eprintln!("< status: OK"),
                Err(CallError::Status(status)) => eprintln!(
                    "< status: {} ({}): {}",
                    status.code.name(),
                    status.code as u8,
                    status.message
                ),
                Err(_) => {}
            }
        }
        let details: Vec<Value> = status
            .details
            .iter()
            .map(|detail| details::to_json(detail, self.schema))
            .collect();
        if let Shown::Envelope { pretty } = self.shown {
            let mut shown_status = json!({"code": status.code as u8, "name": status.code.name(), "message": status.message});
            if !details.is_empty() {
                shown_status["details"] = details.clone().into();
            }
            let envelope = json!({
                "status": shown_status,
                "headers": object(headers),
                "trailers": object(trailers),
                "messages": self.messages,
            });
            output::print_json(&envelope, pretty)?;
        }
        for (number, detail) in details.iter().enumerate() {
            eprintln!("rmicro: error detail {}: {detail}", number + 1);
        }
        Ok(())
    }
}

fn print_section(label: &str, pairs: &Pairs) {
    eprintln!("< {label}:");
    for (name, value) in pairs {
        eprintln!("< {name}: {value}");
    }
}

fn object(pairs: &Pairs) -> Value {
    let mut object = Map::new();
    for (name, value) in pairs {
        object.insert(name.clone(), Value::String(value.clone()));
    }
    Value::Object(object)
}
