//! `rmicro call` over gRPC. Every call is a stream: its requests come from DATA (one
//! JSON document, or for a client stream several, concatenated or one per line), its
//! replies are printed one JSON document each as they arrive, headers and trailers go to
//! stderr with `-v`, and `--output envelope` prints one object with the status, headers,
//! trailers and messages instead. A unary call is retried on Unavailable (and the
//! `--retry-on` codes); a stream is retried only while connecting, never after its
//! first message was sent.

use super::inspect::peer_error;
use crate::client::{is_retryable_grpc, AttemptEvent, Client};
use crate::codec::{self, details, Codec};
use crate::exit_code::UsageError;
use crate::message::Metadata;
use crate::output;
use crate::protocol::grpc::client::{text_pairs, GrpcStream};
use crate::protocol::CallError;
use crate::status::{Code, Status};
use anyhow::anyhow;
use http::HeaderMap;
use prost::Message as _;
use prost_reflect::MethodDescriptor;
use serde_json::{json, Map, Value};
use std::time::Instant;

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

pub async fn run(
    client: &mut Client,
    method: &MethodDescriptor,
    data: &[u8],
    metadata: &Metadata,
    shown: Shown,
    verbose: bool,
    observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
) -> anyhow::Result<()> {
    let requests = requests(method, data)?;
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let streaming = crate::schema::is_streaming(method);
    let mut attempt = 0;
    loop {
        let mut stream = client
            .open_stream(&path, Codec::Protobuf, metadata, &mut attempt, observe)
            .await
            .map_err(|error| peer_error(error, client.address()))?;
        let started = Instant::now();
        let mut call = Call {
            method,
            shown,
            verbose,
            messages: Vec::new(),
            headers_shown: false,
        };
        let timeout = client.options().timeout;
        let result =
            match tokio::time::timeout(timeout, call.exchange(&mut stream, &requests)).await {
                Ok(result) => result,
                Err(_) => Err(CallError::Status(Status::deadline_exceeded(format!(
                    "no reply within {} (--timeout)",
                    humantime::format_duration(timeout)
                )))),
            };
        if let Err(error) = &result {
            // A stream is never retried once its first message was sent.
            let retryable = !streaming && is_retryable_grpc(error, &client.options().retry_on);
            let elapsed = started.elapsed();
            if client
                .retry_after_failure(&mut attempt, error, elapsed, retryable, observe)
                .await
            {
                continue;
            }
        }
        call.show_headers(&stream);
        if verbose {
            print_headers(stream.trailers());
        }
        let schema = method.parent_pool();
        let shown_details = |status: &Status| -> Vec<Value> {
            status
                .details
                .iter()
                .map(|detail| details::to_json(detail, Some(schema)))
                .collect()
        };
        if let Shown::Envelope { pretty } = shown {
            let status = match &result {
                Ok(()) => Status::new(Code::Ok, ""),
                Err(CallError::Status(status)) => status.clone(),
                Err(_) => Status::new(Code::Unavailable, ""),
            };
            let mut shown_status = json!({"code": status.code as u8, "name": status.code.name(), "message": status.message});
            if !status.details.is_empty() {
                shown_status["details"] = shown_details(&status).into();
            }
            let envelope = json!({
                "status": shown_status,
                "headers": header_object(stream.headers()),
                "trailers": header_object(stream.trailers()),
                "messages": call.messages,
            });
            output::print_json(&envelope, pretty)?;
        }
        if let Err(CallError::Status(status)) = &result {
            for (number, detail) in shown_details(status).iter().enumerate() {
                eprintln!("rmicro: error detail {}: {detail}", number + 1);
            }
        }
        return result.map_err(|error| peer_error(error, client.address()));
    }
}

/// The request messages in DATA, encoded: exactly one unless requests stream.
fn requests(method: &MethodDescriptor, data: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    let input = method.input();
    let mut messages = Vec::new();
    for (index, value) in serde_json::Deserializer::from_slice(data)
        .into_iter::<Value>()
        .enumerate()
    {
        let value = value.map_err(|error| anyhow!("request {}: not JSON: {error}", index + 1))?;
        let message = codec::from_json_value(&input, &value).map_err(|error| {
            anyhow!(
                "request {} does not fit {}: {error}",
                index + 1,
                input.full_name()
            )
        })?;
        messages.push(message.encode_to_vec());
    }
    if !method.is_client_streaming() && messages.len() != 1 {
        return Err(UsageError(format!(
            "{} takes one request message; DATA holds {}",
            method.name(),
            messages.len()
        ))
        .into());
    }
    Ok(messages)
}

struct Call<'a> {
    method: &'a MethodDescriptor,
    shown: Shown,
    verbose: bool,
    /// Kept for the envelope.
    messages: Vec<Value>,
    headers_shown: bool,
}

impl Call<'_> {
    async fn exchange(
        &mut self,
        stream: &mut GrpcStream,
        requests: &[Vec<u8>],
    ) -> Result<(), CallError> {
        for (index, request) in requests.iter().enumerate() {
            stream.send(request, index + 1 == requests.len())?;
        }
        if requests.is_empty() {
            stream.finish()?;
        }
        let output = self.method.output();
        while let Some(message) = stream.next_message().await? {
            self.show_headers(stream);
            let decoded = codec::decode(Codec::Protobuf, &output, &message)
                .map_err(|error| CallError::Transport(format!("cannot decode a reply: {error}")))?;
            let value = codec::to_json_value(&decoded)
                .map_err(|error| CallError::Transport(format!("cannot decode a reply: {error}")))?;
            let printed = match self.shown {
                Shown::Messages { pretty } => output::print_json(&value, pretty),
                Shown::Raw => output::print_raw(&message),
                Shown::Envelope { .. } => Ok(()),
            };
            printed.map_err(|error| CallError::Transport(format!("cannot print: {error}")))?;
            self.messages.push(value);
        }
        Ok(())
    }

    fn show_headers(&mut self, stream: &GrpcStream) {
        if self.verbose && !self.headers_shown {
            print_headers(stream.headers());
        }
        self.headers_shown = true;
    }
}

/// `-v`: one `< name: value` line each.
fn print_headers(headers: &HeaderMap) {
    for (name, value) in text_pairs(headers) {
        eprintln!("< {name}: {value}");
    }
}

fn header_object(headers: &HeaderMap) -> Value {
    let mut object = Map::new();
    for (name, value) in text_pairs(headers) {
        object.insert(name.to_owned(), Value::String(value));
    }
    Value::Object(object)
}
