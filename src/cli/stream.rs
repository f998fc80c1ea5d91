//! A streaming call as `rmicro call` runs it (gRPC's client, server and bidirectional
//! streams, and go-micro's mucp streams, typed by the schema or, with none, untyped JSON
//! where the registry record says the endpoint streams ([`Shape`])). The stream opens at
//! once; requests come from DATA, or from stdin as they
//! arrive — concatenated JSON or NDJSON, each message sent the moment its JSON is complete
//! — and the request stream is half-closed at their end; each reply is printed as it
//! arrives. So a script can play lock-step ping-pong, and a person can type at a
//! terminal. The call's deadline (`--timeout`, or what is left of `--max-time`) runs
//! while stdin is still open; Ctrl-C cancels the call (RST_STREAM CANCEL) and exits 130.
//! The stream is opened through the client's attempt loop, so it is retried only while
//! connecting, never once a message may have been sent.

use super::inspect::peer_error;
use super::reply::{show_request, Shower};
use crate::client::{AttemptEvent, Client, OpenStream};
use crate::codec::{self, Codec};
use crate::exit_code::{Interrupted, UsageError};
use crate::message::Metadata;
use crate::protocol::{CallError, CallHead, Progress};
use crate::schema::endpoint_name;
use anyhow::anyhow;
use prost_reflect::{MessageDescriptor, MethodDescriptor};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;

/// Where a stream's requests come from.
pub enum Requests {
    /// All of them at once (DATA, or a file).
    Given(Vec<u8>),
    /// Stdin, read as it arrives.
    Stdin,
}

/// An encoded request, or why the input could not give one.
type Parsed = Result<Vec<u8>, String>;

/// What a stream's messages are: the method's types; or, with no schema, where the
/// endpoint is known to stream from its registry record alone, JSON sent as typed and
/// printed as received, the stream taken as bidirectional (the record does not say which
/// side streams, and go-micro frames all three alike).
pub enum Shape {
    Method(MethodDescriptor),
    Untyped {
        /// `Job.Watch`.
        endpoint: String,
        path: String,
    },
}

impl Shape {
    fn client_streaming(&self) -> bool {
        match self {
            Shape::Method(method) => method.is_client_streaming(),
            Shape::Untyped { .. } => true,
        }
    }

    fn input(&self) -> Option<MessageDescriptor> {
        match self {
            Shape::Method(method) => Some(method.input()),
            Shape::Untyped { .. } => None,
        }
    }
}

/// What a stream sends, and how.
pub struct Plan<'a> {
    pub requests: Requests,
    /// Protobuf for gRPC; the call's codec over mucp, JSON written in go-micro's dialect.
    pub codec: Codec,
    /// `Micro-Service` (mucp).
    pub service: &'a str,
}

pub async fn run(
    client: &mut Client,
    shape: &Shape,
    plan: Plan<'_>,
    metadata: &Metadata,
    mut shower: Shower<'_>,
    verbose: bool,
    observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
) -> anyhow::Result<()> {
    let codec = plan.codec;
    let mut feed = feed(shape, plan.requests, codec)?;
    let (path, endpoint) = match shape {
        Shape::Method(method) => (crate::schema::grpc_path(method), endpoint_name(method)),
        Shape::Untyped { endpoint, path } => (path.clone(), endpoint.clone()),
    };
    let head = CallHead {
        service: plan.service,
        endpoint: &endpoint,
        path: &path,
        codec,
        metadata,
        timeout: None,
    };
    show_request(verbose, metadata);
    let OpenStream {
        mut stream,
        deadline,
        bound,
    } = client
        .open(&head, observe)
        .await
        .map_err(|error| peer_error(error, client.address()))?;
    let output = match shape {
        Shape::Method(method) => Some(method.output()),
        Shape::Untyped { .. } => None,
    };
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut feeding = true;
    // Requests go out while replies come in: the next request is taken once the server
    // has window for the last, so a server that reads its next request only after its
    // reply was read does not stall the call. A method without a request stream sends
    // its one message with the half-close (a stream known only from a registry record
    // may stream requests).
    let mut queued = false;
    let last_is_first = matches!(shape, Shape::Method(method) if !method.is_client_streaming());
    let result: Result<(), CallError> = loop {
        tokio::select! {
            _ = &mut interrupted => {
                stream.cancel();
                // Let the connection's task write the RST_STREAM before the process ends.
                tokio::time::sleep(Duration::from_millis(20)).await;
                return Err(Interrupted.into());
            }
            _ = crate::client::until(deadline) => {
                stream.cancel();
                break Err(bound.exceeded());
            }
            request = feed.recv(), if feeding && !queued => match request {
                Some(parsed) => {
                    let message = parsed.map_err(|error| {
                        stream.cancel();
                        anyhow!(error)
                    })?;
                    feeding = !last_is_first;
                    match stream.queue(message.into(), last_is_first) {
                        Ok(()) => queued = !last_is_first,
                        // The server has ended the call: its reply says how.
                        Err(error) => {
                            tracing::debug!("request not sent: {error}");
                            feeding = false;
                        }
                    }
                }
                None => {
                    feeding = false;
                    // A failure means the server has ended the call: its reply says how.
                    if let Err(error) = stream.close_send() {
                        tracing::debug!("half-close: {error}");
                    }
                }
            },
            progress = stream.progress(queued) => match progress {
                Ok(Progress::Sent) => queued = false,
                // The server has ended the call (or is about to): its reply says how.
                Ok(Progress::SendClosed) => (queued, feeding) = (false, false),
                Ok(Progress::Received(Some(message))) => {
                    if !shower.headers_shown() {
                        shower.headers(&stream.headers());
                    }
                    let value = match &output {
                        Some(output) => codec::decode_reply(codec, output, &message)
                            .and_then(|decoded| codec::to_display_value(&decoded, shower.emit_defaults))
                            .map_err(|error| anyhow!("cannot decode a reply: {error}"))?,
                        None => untyped_reply(&message)?,
                    };
                    shower.message(value, &message)?;
                }
                Ok(Progress::Received(None)) => break Ok(()),
                Err(error) => break Err(error),
            },
        }
    };
    shower.finish(&stream.headers(), &stream.trailers(), &result)?;
    result.map_err(|error| peer_error(error, client.address()))
}

/// The request messages as a channel. Given requests are parsed and counted before the
/// call opens (a method without a client stream takes exactly one); stdin is read on its
/// own thread, each JSON value handed over as soon as it is complete.
fn feed(shape: &Shape, requests: Requests, codec: Codec) -> anyhow::Result<mpsc::Receiver<Parsed>> {
    let data = match requests {
        Requests::Stdin if shape.client_streaming() => {
            let (sender, receiver) = mpsc::channel(16);
            let input = shape.input();
            std::thread::spawn(move || {
                let stdin = std::io::stdin().lock();
                for (index, value) in serde_json::Deserializer::from_reader(stdin)
                    .into_iter::<Value>()
                    .enumerate()
                {
                    let parsed = value
                        .map_err(|error| format!("request {}: not JSON: {error}", index + 1))
                        .and_then(|value| fit(input.as_ref(), &value, index + 1, codec));
                    let failed = parsed.is_err();
                    if sender.blocking_send(parsed).is_err() || failed {
                        return;
                    }
                }
            });
            return Ok(receiver);
        }
        Requests::Stdin => {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)
                .map_err(|error| anyhow!("cannot read the request from stdin: {error}"))?;
            data
        }
        Requests::Given(data) => data,
    };
    let mut messages = Vec::new();
    for (index, value) in serde_json::Deserializer::from_slice(&data)
        .into_iter::<Value>()
        .enumerate()
    {
        let value = value.map_err(|error| anyhow!("request {}: not JSON: {error}", index + 1))?;
        messages.push(
            fit(shape.input().as_ref(), &value, index + 1, codec)
                .map_err(|error| anyhow!(error))?,
        );
    }
    if let (Shape::Method(method), false) = (shape, shape.client_streaming()) {
        if messages.len() != 1 {
            return Err(UsageError(format!(
                "{} takes one request message; DATA holds {}",
                method.name(),
                messages.len()
            ))
            .into());
        }
    }
    let (sender, receiver) = mpsc::channel(messages.len().max(1));
    for message in messages {
        let _ = sender.try_send(Ok(message));
    }
    Ok(receiver)
}

/// Request `number`'s JSON checked against the request type and encoded (JSON as
/// go-micro's readers take it: proto field names, numbers for enums and 64-bit integers).
fn fit(
    input: Option<&MessageDescriptor>,
    value: &Value,
    number: usize,
    codec: Codec,
) -> Result<Vec<u8>, String> {
    let Some(input) = input else {
        // Schema-less: the JSON as typed, written compactly (spec §2.5); the caller
        // allows JSON only.
        return serde_json::to_vec(value).map_err(|error| format!("request {number}: {error}"));
    };
    codec::from_json_value(input, value)
        .and_then(|message| codec::encode(codec, &message))
        .map_err(|error| {
            format!(
                "request {number} does not fit {}: {error}",
                input.full_name()
            )
        })
}

/// A schema-less reply: its JSON as it came (an empty body is `{}`, as go-micro's JSON
/// codec reads it).
fn untyped_reply(message: &[u8]) -> anyhow::Result<Value> {
    if message.trim_ascii().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(message)
        .map_err(|error| anyhow!("a reply is not JSON ({error}); use --output raw to see it"))
}
