//! A streaming call as `rmicro call` runs it (gRPC's client, server and bidirectional
//! streams, and go-micro's mucp streams). The stream opens at once; requests come from DATA, or from stdin as they
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
use crate::protocol::{CallError, CallHead};
use crate::schema::endpoint_name;
use anyhow::anyhow;
use prost_reflect::MethodDescriptor;
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
    method: &MethodDescriptor,
    plan: Plan<'_>,
    metadata: &Metadata,
    mut shower: Shower<'_>,
    verbose: bool,
    observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
) -> anyhow::Result<()> {
    let codec = plan.codec;
    let mut feed = feed(method, plan.requests, codec)?;
    let path = crate::schema::grpc_path(method);
    let endpoint = endpoint_name(method);
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
    let output = method.output();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut feeding = true;
    let result: Result<(), CallError> = loop {
        tokio::select! {
            _ = &mut interrupted => {
                stream.cancel();
                // Let the connection's task write the RST_STREAM before the process ends.
                tokio::time::sleep(Duration::from_millis(20)).await;
                return Err(Interrupted.into());
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                stream.cancel();
                break Err(bound.exceeded());
            }
            request = feed.recv(), if feeding => match request {
                Some(parsed) => {
                    let message = parsed.map_err(|error| {
                        stream.cancel();
                        anyhow!(error)
                    })?;
                    if let Err(error) = stream.send(message.into()).await {
                        break Err(error);
                    }
                }
                None => {
                    feeding = false;
                    if let Err(error) = stream.close_send() {
                        break Err(error);
                    }
                }
            },
            reply = stream.receive() => match reply {
                Ok(Some(message)) => {
                    if !shower.headers_shown() {
                        shower.headers(&stream.headers());
                    }
                    let value = codec::decode_reply(codec, &output, &message)
                        .and_then(|decoded| codec::to_display_value(&decoded, shower.emit_defaults))
                        .map_err(|error| anyhow!("cannot decode a reply: {error}"))?;
                    shower.message(value, &message)?;
                }
                Ok(None) => break Ok(()),
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
fn feed(
    method: &MethodDescriptor,
    requests: Requests,
    codec: Codec,
) -> anyhow::Result<mpsc::Receiver<Parsed>> {
    let data = match requests {
        Requests::Stdin if method.is_client_streaming() => {
            let (sender, receiver) = mpsc::channel(16);
            let input = method.input();
            std::thread::spawn(move || {
                let stdin = std::io::stdin().lock();
                for (index, value) in serde_json::Deserializer::from_reader(stdin)
                    .into_iter::<Value>()
                    .enumerate()
                {
                    let parsed = value
                        .map_err(|error| format!("request {}: not JSON: {error}", index + 1))
                        .and_then(|value| fit(&input, &value, index + 1, codec));
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
        messages
            .push(fit(&method.input(), &value, index + 1, codec).map_err(|error| anyhow!(error))?);
    }
    if !method.is_client_streaming() && messages.len() != 1 {
        return Err(UsageError(format!(
            "{} takes one request message; DATA holds {}",
            method.name(),
            messages.len()
        ))
        .into());
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
    input: &prost_reflect::MessageDescriptor,
    value: &Value,
    number: usize,
    codec: Codec,
) -> Result<Vec<u8>, String> {
    codec::from_json_value(input, value)
        .and_then(|message| codec::encode(codec, &message))
        .map_err(|error| {
            format!(
                "request {number} does not fit {}: {error}",
                input.full_name()
            )
        })
}
