//! `rmicro call ENDPOINT [DATA]`: the arguments become a plan — the endpoint resolved
//! against the local schema (before any network I/O) or the server's (gRPC reflection or
//! `Debug.Endpoints`), the request JSON checked against its type, the metadata, the
//! client with its retry and time bounds — and the plan runs through the one client: a
//! unary call (any protocol) with retries, or a gRPC stream ([`stream`]). Against a
//! server without a schema (a JSON-RPC server is a Go program with none), JSON goes
//! through as it is, as `micro call` does; a stream endpoint that only the registry record
//! names as one is still called as a go-micro stream. `--batch` hands many requests to
//! [`batch`].

use super::args::{parse_duration, parse_headers, SchemaArgs, SchemaOutArgs, TargetArgs};
use super::batch;
use super::inspect::{block_on, peer_error};
use super::registered::{self, Records};
use super::reply::{show_request, show_schema_source, Shower, Shown};
use super::stream::{self, Requests, Shape};
use crate::client::{AttemptEvent, Backoff, Client};
use crate::codec::{self, Codec};
use crate::exit_code::UsageError;
use crate::message::Metadata;
use crate::output;
use crate::protocol::mucp::body::{BodyCodec, OpenError};
use crate::protocol::{CallError, CallHead, Protocol};
use crate::registry::record::EndpointRecord;
use crate::schema::{endpoint_name, Schema};
use crate::status::Code;
use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};
use prost::Message as _;
use std::io::Read;

/// How gRPC request messages are compressed (`--compress`).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum Compression {
    Gzip,
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Service.Method, pkg.Service.Method or pkg.Service/Method.
    #[arg(add = clap_complete::ArgValueCandidates::new(super::complete::endpoints))]
    endpoint: String,
    /// Request JSON (default {}); same as -d.
    #[arg(value_name = "DATA")]
    data_arg: Option<String>,
    /// Request JSON, @FILE to read a file, or @- to read stdin.
    #[arg(
        short = 'd',
        long = "data",
        value_name = "DATA",
        conflicts_with = "data_arg"
    )]
    data: Option<String>,
    #[command(flatten)]
    schema: SchemaArgs,
    #[command(flatten)]
    schema_out: SchemaOutArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Print every field of a reply, zero values too (0, "", false, [], null).
    #[arg(long)]
    emit_defaults: bool,
    /// Body encoding on the wire (default: json; protobuf for gRPC). Over mucp also
    /// go-micro's other codecs: json-rpc and proto-rpc (the legacy envelopes), grpc,
    /// grpc+proto and grpc+json (gRPC framing in the body), octet-stream (raw protobuf).
    #[arg(long, value_enum)]
    content_type: Option<ContentType>,
    /// Metadata for the call only, not for reflection (repeatable; @FILE as for -H).
    #[arg(long = "rpc-header", value_name = "KEY:VALUE")]
    rpc_headers: Vec<String>,
    /// One bound on the whole call, every attempt and backoff included (exit 68 when it
    /// runs out); --timeout bounds each attempt.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    max_time: Option<std::time::Duration>,
    /// Extra attempts on timeouts, code 500 and connection failures (go-micro's default: 1);
    /// over gRPC on Unavailable and connection failures.
    #[arg(long, default_value_t = 1)]
    retries: u32,
    /// gRPC status codes that are retried too, e.g. DEADLINE_EXCEEDED,RESOURCE_EXHAUSTED.
    #[arg(long, value_name = "CODES", value_delimiter = ',', value_parser = parse_code)]
    retry_on: Vec<Code>,
    /// Compress gRPC request messages (gzip); replies are read compressed either way.
    #[arg(long, value_enum, value_name = "ALGORITHM")]
    compress: Option<Compression>,
    /// Delay between attempts: exponential (go-micro's formula), constant:DURATION or none.
    #[arg(long, value_name = "POLICY", default_value = "exponential", value_parser = parse_backoff)]
    backoff: Backoff,
    /// pretty (indented JSON; the default on a terminal), json (one line per message), raw
    /// (the body as received) or envelope (gRPC: status, headers, trailers and messages).
    #[arg(short = 'o', long, value_enum)]
    output: Option<OutputFormat>,
    /// Show each attempt and the reply headers on stderr.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Read requests from stdin, one JSON document per line; print one reply line per
    /// request, in input order ({"error":{…}} for a failed one). Calls share connections.
    #[arg(long)]
    batch: bool,
    /// Calls in flight at once with --batch.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    concurrency: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub(super) enum ContentType {
    Json,
    Protobuf,
    JsonRpc,
    ProtoRpc,
    OctetStream,
    Grpc,
    #[value(name = "grpc+proto")]
    GrpcProto,
    #[value(name = "grpc+json")]
    GrpcJson,
}

impl ContentType {
    /// The go-micro codec (mucp) this names.
    fn body_codec(self) -> BodyCodec {
        let content_type = match self {
            ContentType::Json => "application/json",
            ContentType::Protobuf => "application/protobuf",
            ContentType::JsonRpc => "application/json-rpc",
            ContentType::ProtoRpc => "application/proto-rpc",
            ContentType::OctetStream => "application/octet-stream",
            ContentType::Grpc => "application/grpc",
            ContentType::GrpcProto => "application/grpc+proto",
            ContentType::GrpcJson => "application/grpc+json",
        };
        BodyCodec::from_content_type(content_type, false).expect("a go-micro codec")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum OutputFormat {
    Pretty,
    Json,
    Raw,
    /// gRPC: one JSON object with status, headers, trailers and messages.
    Envelope,
}

fn parse_code(text: &str) -> Result<Code, String> {
    Code::from_name(text.trim())
        .ok_or_else(|| format!("{text:?} is not a gRPC status name like UNAVAILABLE"))
}

fn parse_backoff(text: &str) -> Result<Backoff, String> {
    match text {
        "exponential" => Ok(Backoff::Exponential),
        "none" => Ok(Backoff::None),
        _ => match text.strip_prefix("constant:") {
            Some(delay) => parse_duration(delay).map(Backoff::Constant),
            None => Err("use exponential, constant:DURATION (e.g. constant:200ms) or none".into()),
        },
    }
}

/// What `call` and `bench` resolve alike from their flags: the metadata of the call and of
/// reflection, the local schema, the client and the body codec.
pub(super) struct Plan {
    pub(super) metadata: Metadata,
    pub(super) reflect_metadata: Metadata,
    pub(super) local: Option<Schema>,
    pub(super) client: Client,
    pub(super) codec: Codec,
    /// One of go-micro's codecs that wraps the body (mucp only).
    pub(super) wrapped: Option<BodyCodec>,
    /// The registry records to read when no schema tells what the endpoint is.
    pub(super) records: Records,
}

/// The [`Plan`] of a call of `endpoint`: the endpoint is resolved against the local schema
/// before any network I/O, and the target found (by address, by name, or as the one
/// registered service offering it).
pub(super) fn plan(
    endpoint: &str,
    schema: &SchemaArgs,
    target: &TargetArgs,
    rpc_headers: &[String],
    content_type: Option<ContentType>,
    options: crate::client::CallOptions,
) -> anyhow::Result<Plan> {
    // -H (its files read once) goes to both sides, the side flags to one each.
    let shared = parse_headers(&target.headers)?;
    let mut metadata = shared.clone();
    metadata.extend(parse_headers(rpc_headers)?);
    let mut reflect_metadata = shared;
    reflect_metadata.extend(parse_headers(&target.reflect_headers)?);
    let local = schema.load()?;
    let wire_name = match &local {
        Some(schema) => endpoint_name(&schema.resolve(endpoint)?),
        None => go_micro_name(endpoint),
    };
    let route = target.registered_route(Some(&wire_name))?;
    let records = Records::of(&route, target);
    let client = target.client_for(route, options)?;
    // go-micro's codecs other than plain JSON and protobuf: the body wrapped here, the
    // Content-Type (and Accept, as go-micro's client sends them) given as metadata.
    let wrapped = content_type
        .map(ContentType::body_codec)
        .filter(|body| *body != BodyCodec::plain(body.codec));
    let codec = match (content_type, client.protocol()) {
        (_, Protocol::Grpc) => Codec::Protobuf,
        (Some(ContentType::Json), Protocol::Connect | Protocol::GrpcWeb) => Codec::Json,
        (_, Protocol::Connect | Protocol::GrpcWeb) => Codec::Protobuf,
        (Some(ContentType::Json) | None, _) => Codec::Json,
        (Some(given), Protocol::JsonRpc) => {
            return Err(UsageError(format!(
                "JSON-RPC carries JSON only: drop --content-type {}",
                given.to_possible_value().expect("a value").get_name()
            ))
            .into())
        }
        (Some(given), _) => given.body_codec().codec,
    };
    if let Some(body) = wrapped {
        if client.protocol() != Protocol::Mucp {
            return Err(UsageError(format!(
                "--content-type {} is one of go-micro's codecs, for mucp calls",
                body.content_type
            ))
            .into());
        }
        metadata.push("Content-Type", body.content_type);
        metadata.push("Accept", body.content_type);
        if body.framing == crate::protocol::mucp::body::Framing::Grpc {
            metadata.push("Te", "trailers");
        }
    }
    Ok(Plan {
        metadata,
        reflect_metadata,
        local,
        client,
        codec,
        wrapped,
        records,
    })
}

pub fn run(args: CallArgs) -> anyhow::Result<()> {
    let options = crate::client::CallOptions {
        max_time: args.max_time,
        retry_on: args.retry_on.clone(),
        gzip: args.compress.is_some(),
        ..args.target.call_options(args.retries, args.backoff)
    };
    let Plan {
        metadata,
        reflect_metadata,
        local,
        mut client,
        codec,
        wrapped,
        records,
    } = plan(
        &args.endpoint,
        &args.schema,
        &args.target,
        &args.rpc_headers,
        args.content_type,
        options,
    )?;
    if let (Some(body), true) = (wrapped, args.batch) {
        return Err(UsageError(format!(
            "--batch sends JSON or protobuf; drop --content-type {}",
            body.content_type
        ))
        .into());
    }
    if args.output == Some(OutputFormat::Envelope) && !client.protocol().is_grpc_family() {
        return Err(
            UsageError("--output envelope is for gRPC, Connect and gRPC-Web calls".into()).into(),
        );
    }
    let verbose = args.verbose;
    let mut observe = |event: AttemptEvent<'_>| report(verbose, event);
    if args.batch && (args.data.is_some() || args.data_arg.is_some()) {
        return Err(UsageError(
            "--batch reads its requests from stdin, one JSON document per line; drop DATA".into(),
        )
        .into());
    }
    let data = args.data.as_deref().or(args.data_arg.as_deref());
    let pretty = output::stdout_is_terminal();
    let shown = match args.output.unwrap_or(if pretty {
        OutputFormat::Pretty
    } else {
        OutputFormat::Json
    }) {
        OutputFormat::Pretty => Shown::Messages { pretty: true },
        OutputFormat::Json => Shown::Messages { pretty: false },
        OutputFormat::Raw => Shown::Raw,
        OutputFormat::Envelope => Shown::Envelope { pretty },
    };
    block_on(async {
        let mut schema = schema_for_call(
            &mut client,
            &args.endpoint,
            local,
            &reflect_metadata,
            verbose,
            records,
        )
        .await?;
        schema.emit_defaults = args.emit_defaults;
        args.schema_out.write(schema.schema.as_ref())?;
        let protocol = client.protocol();
        let streaming = match (&schema.schema, &schema.record) {
            (Some(pool), _) if protocol.is_grpc_family() || protocol == Protocol::Mucp => {
                Some(pool.resolve(&args.endpoint)?)
                    .filter(crate::schema::is_streaming)
                    .map(Shape::Method)
            }
            // No schema, but the registry record says the endpoint streams.
            (None, Some(record)) if registered::streams(record) => Some(Shape::Untyped {
                endpoint: record.name.clone(),
                path: grpc_path(&args.endpoint),
            }),
            _ => None,
        };
        if args.batch {
            if streaming.is_some() {
                return Err(UsageError(format!(
                    "--batch makes unary calls, and {} streams: drop --batch (a stream takes its requests from stdin as they come)",
                    args.endpoint
                ))
                .into());
            }
            let (endpoint, concurrency) = (&args.endpoint, args.concurrency);
            return batch::run(&client, endpoint, schema, codec, &metadata, concurrency).await;
        }
        if protocol.is_grpc_family() && schema.schema.is_none() {
            return Err(anyhow!("{} offers no reflection, so the call needs a schema: pass --proto or --descriptor-set", client.address()));
        }
        if let (Some(_), Some(body)) = (&streaming, wrapped) {
            return Err(UsageError(format!(
                "rmicro streams over mucp in JSON or protobuf; drop --content-type {}",
                body.content_type
            ))
            .into());
        }
        if let Some(shape) = streaming {
            // A stream endpoint is always called as a stream: gRPC's, or go-micro's over
            // mucp (spec §5), never as a plain request its handler would wait on for ever.
            let requests = match data {
                Some("@-") => Requests::Stdin,
                data => Requests::Given(read_data(data)?),
            };
            let (pool, service) = match &shape {
                Shape::Method(method) => {
                    (Some(method.parent_pool()), micro_service(method, &schema))
                }
                Shape::Untyped { endpoint, .. } => (None, untyped_service(endpoint, &schema)),
            };
            let mut shower = Shower::new(shown, verbose, pool);
            shower.emit_defaults = args.emit_defaults;
            let codec = match protocol.is_grpc_family() {
                true => Codec::Protobuf,
                false => codec,
            };
            if matches!(shape, Shape::Untyped { .. }) && codec == Codec::Protobuf {
                return Err(UsageError("--content-type protobuf needs a schema (--proto or --descriptor-set), and the server offers none".into()).into());
            }
            return stream::run(
                &mut client,
                &shape,
                stream::Plan {
                    requests,
                    codec,
                    service: &service,
                },
                &metadata,
                shower,
                verbose,
                &mut observe,
            )
            .await;
        }
        let data = read_data(data)?;
        let mut prepared = prepare(&args.endpoint, &schema, codec, &data, protocol)?;
        if let Some(body) = wrapped {
            prepared.body = body.wrap_request(&prepared.endpoint, 0, &prepared.body);
        }
        show_request(verbose, &metadata);
        let mut exchange = client
            .exchange(
                &prepared.head(codec, &metadata),
                &prepared.body,
                &mut observe,
            )
            .await;
        if let (Some(body), Ok(reply)) = (wrapped, &exchange.outcome) {
            exchange.outcome = match body.open_reply(reply, usize::MAX) {
                Ok(message) => Ok(message),
                Err(OpenError::Peer(error)) => Err(CallError::Status(
                    crate::status::Status::from_micro_error(&error),
                )),
                Err(OpenError::Malformed(reason)) => Err(CallError::Transport(format!(
                    "the {} reply: {reason}",
                    body.content_type
                ))),
            };
        }
        let pool = schema.schema.as_ref().map(|schema| schema.pool());
        let mut shower = Shower::new(shown, verbose, pool);
        let headers = std::mem::take(&mut exchange.headers).into_pairs();
        let trailers = std::mem::take(&mut exchange.trailers).into_pairs();
        shower.headers(&headers);
        let result = match &exchange.outcome {
            Ok(body) => {
                let value = match shown {
                    Shown::Raw => serde_json::Value::Null,
                    _ => prepared.reply_value(codec, body)?,
                };
                shower.message(value, body)?;
                Ok(())
            }
            // Nothing said whether the endpoint streams (a record would have).
            Err(error)
                if schema.schema.is_none()
                    && schema.record.is_none()
                    && protocol == Protocol::Mucp =>
            {
                Err(hint_stream(error.clone(), &prepared.endpoint))
            }
            Err(error) => Err(error.clone()),
        };
        shower.finish(&headers, &trailers, &result)?;
        result.map_err(|error| peer_error(error, client.address()))
    })
}

/// A schema-less mucp call that ran out of time: a go-micro stream endpoint called as a
/// plain request waits for ever (spec §5), so the error says how rmicro would know.
fn hint_stream(error: CallError, endpoint: &str) -> CallError {
    match error {
        CallError::Status(mut status) if status.code == Code::DeadlineExceeded => {
            status.message.push_str(&format!(
                "; if {endpoint} streams, a go-micro server waits for ever on a plain request: \
                 rmicro calls it as a stream when a schema (--proto, --descriptor-set) or the \
                 service's registry record (--service NAME) says it streams"
            ));
            CallError::Status(status)
        }
        other => other,
    }
}

/// The schema a call is checked against, with the service name the server gave.
pub(super) struct CallSchema {
    schema: Option<Schema>,
    service_name: Option<String>,
    /// Replies print zero-valued fields too.
    emit_defaults: bool,
    /// With no schema, the endpoint as the service's registry record has it.
    record: Option<EndpointRecord>,
}

impl CallSchema {
    pub(super) fn schema(&self) -> Option<&Schema> {
        self.schema.as_ref()
    }

    /// The registry record's word that the endpoint streams, when no schema has it.
    pub(super) fn record_streams(&self) -> bool {
        self.schema.is_none() && self.record.as_ref().is_some_and(registered::streams)
    }
}

/// The local schema if given; else the server's (gRPC reflection, with the reflection
/// metadata, or mucp's `Debug.Endpoints`); else none (JSON-RPC servers are Go programs
/// without a schema), and for mucp what the registry record says of the endpoint (a
/// go-micro server lists nothing itself, spec §4.5).
pub(super) async fn schema_for_call(
    client: &mut Client,
    endpoint: &str,
    local: Option<Schema>,
    reflect_metadata: &Metadata,
    verbose: bool,
    records: Records,
) -> anyhow::Result<CallSchema> {
    if let (Some(schema), Protocol::Mucp, Records::Known(services)) =
        (&local, client.protocol(), &records)
    {
        warn_unary_stream(schema, endpoint, services);
    }
    if local.is_some() || client.protocol() == Protocol::JsonRpc {
        return Ok(CallSchema {
            schema: local,
            service_name: None,
            emit_defaults: false,
            record: None,
        });
    }
    let address = client.address().to_owned();
    show_schema_source(
        verbose,
        &match client.protocol() {
            protocol if protocol.is_grpc_family() => format!("server reflection at {address}"),
            _ => format!("Debug.Endpoints at {address}"),
        },
    );
    let fetched = client
        .fetch_endpoints(reflect_metadata, Some(service_part(endpoint)))
        .await
        .map_err(|error| peer_error(error, &address))?;
    if let Some((record, schema)) = fetched {
        return Ok(CallSchema {
            schema: Some(schema),
            service_name: record["name"].as_str().map(str::to_owned),
            emit_defaults: false,
            record: None,
        });
    }
    let registered = match client.protocol() {
        Protocol::Mucp => records.read().await,
        _ => None,
    };
    let record = registered.as_ref().and_then(|registered| {
        let record = registered.endpoint(&go_micro_name(endpoint)).cloned();
        if record.is_some() {
            show_schema_source(
                verbose,
                &format!("{} (names only, no schema)", registered.source),
            );
        }
        record
    });
    Ok(CallSchema {
        schema: None,
        service_name: registered.map(|registered| registered.name().to_owned()),
        emit_defaults: false,
        record,
    })
}

/// Warns when the schema given has unary an endpoint the service's registry record
/// registers as a go-micro stream: the call goes as the schema says.
fn warn_unary_stream(
    schema: &Schema,
    endpoint: &str,
    services: &[crate::registry::record::Service],
) {
    let Ok(method) = schema.resolve(endpoint) else {
        return;
    };
    let name = endpoint_name(&method);
    let recorded = services
        .iter()
        .flat_map(|service| service.rpc_endpoints())
        .find(|record| record.name == name);
    if recorded.is_some_and(|record| registered::schema_has_unary(schema, record)) {
        eprintln!(
            "rmicro: {name} streams, says the registry record of {}, but the schema given has it unary: it is called as a plain request, which a go-micro stream handler never answers",
            services[0].name
        );
    }
}

/// The request as it goes on the wire, and how to read its reply.
pub(super) struct Prepared {
    endpoint: String,
    path: String,
    service: String,
    pub(super) body: Vec<u8>,
    output: Option<prost_reflect::MessageDescriptor>,
    emit_defaults: bool,
}

impl Prepared {
    pub(super) fn head<'a>(&'a self, codec: Codec, metadata: &'a Metadata) -> CallHead<'a> {
        CallHead {
            service: &self.service,
            endpoint: &self.endpoint,
            path: &self.path,
            codec,
            metadata,
            timeout: None,
        }
    }

    /// The request in the call's codec.
    pub(super) fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// Checks that a reply decodes as the reply type (Go's field names accepted in JSON),
    /// or, schema-less, that it is JSON; for a load run, which decodes every reply.
    pub(super) fn reply_checker(
        &self,
        codec: Codec,
    ) -> impl Fn(&[u8]) -> Result<(), String> + Send + Sync + 'static {
        let output = self.output.clone();
        move |body: &[u8]| match &output {
            Some(output) => codec::decode_reply(codec, output, body).map(drop),
            None if body.is_empty() => Ok(()),
            None => serde_json::from_slice::<serde::de::IgnoredAny>(body)
                .map(drop)
                .map_err(|error| format!("the reply is not JSON: {error}")),
        }
    }

    /// The reply as JSON for printing: decoded through the schema when there is one
    /// (Go's field names accepted), else the JSON as it came.
    pub(super) fn reply_value(
        &self,
        codec: Codec,
        body: &[u8],
    ) -> anyhow::Result<serde_json::Value> {
        let decoded = match &self.output {
            Some(output) => codec::decode_reply(codec, output, body),
            None if body.is_empty() => return Ok(serde_json::json!({})),
            None => {
                return serde_json::from_slice(body).map_err(|error| {
                    anyhow!("the reply is not JSON ({error}); use --output raw to see it")
                })
            }
        };
        decoded
            .and_then(|message| codec::to_display_value(&message, self.emit_defaults))
            .map_err(|error| anyhow!("cannot decode the reply: {error}"))
    }
}

/// The request for the wire. With a schema, JSON over mucp is written in the dialect every
/// go-micro server reads — proto field names, numbers for enums and 64-bit integers — as
/// go-micro's own clients write it (spec §2.5): a server with plain Go structs drops a
/// lowerCamel key and refuses an enum's name. JSON-RPC gets the JSON as typed.
pub(super) fn prepare(
    endpoint: &str,
    call_schema: &CallSchema,
    codec: Codec,
    data: &[u8],
    protocol: Protocol,
) -> anyhow::Result<Prepared> {
    // JSON syntax first, so that a syntax error is reported as one (with its line and
    // column), never as a field the schema lacks.
    serde_json::from_slice::<serde::de::IgnoredAny>(data).map_err(|error| {
        let hint = match error.to_string().starts_with("key must be a string") {
            true => " (JSON keys need double quotes: {\"name\":\"x\"})",
            false => "",
        };
        anyhow!("the request is not valid JSON: {error}{hint}")
    })?;
    let Some(schema) = &call_schema.schema else {
        // Schema-less: the JSON travels as the user wrote it (spec §2.5).
        if codec == Codec::Protobuf {
            return Err(UsageError("--content-type protobuf needs a schema (--proto or --descriptor-set), and the server offers none".into()).into());
        }
        let path = grpc_path(endpoint);
        let endpoint = go_micro_name(endpoint);
        return Ok(Prepared {
            path,
            service: untyped_service(&endpoint, call_schema),
            endpoint,
            body: data.trim_ascii().to_vec(),
            output: None,
            emit_defaults: false,
        });
    };
    let method = schema.resolve(endpoint)?;
    let message = codec::from_json_text(&method.input(), data).map_err(|error| {
        anyhow!(
            "the request does not fit {}: {error}",
            method.input().full_name()
        )
    })?;
    let body = match (codec, protocol) {
        (Codec::Json, Protocol::Mucp) => codec::encode(Codec::Json, &message)
            .map_err(|error| anyhow!("cannot write the request: {error}"))?,
        (Codec::Json, _) => data.trim_ascii().to_vec(),
        (Codec::Protobuf, _) => message.encode_to_vec(),
    };
    Ok(Prepared {
        path: crate::schema::grpc_path(&method),
        endpoint: endpoint_name(&method),
        service: micro_service(&method, call_schema),
        body,
        output: Some(method.output()),
        emit_defaults: call_schema.emit_defaults,
    })
}

/// The `Micro-Service` of a call: the name the server gave, else the proto package, else
/// the proto service's name in lower case.
fn micro_service(method: &prost_reflect::MethodDescriptor, call_schema: &CallSchema) -> String {
    if let Some(name) = &call_schema.service_name {
        return name.clone();
    }
    let file = method.parent_service().parent_file();
    match file.package_name() {
        "" => method.parent_service().name().to_lowercase(),
        package => package.to_owned(),
    }
}

/// The `Micro-Service` of a schema-less call: the registered name, else the endpoint's
/// handler in lower case.
fn untyped_service(endpoint: &str, call_schema: &CallSchema) -> String {
    call_schema.service_name.clone().unwrap_or_else(|| {
        endpoint
            .split('.')
            .next()
            .unwrap_or_default()
            .to_lowercase()
    })
}

/// The service an endpoint names (`pkg.Service` of `pkg.Service/Method` or
/// `pkg.Service.Method`, `Service` of `Service.Method`).
fn service_part(endpoint: &str) -> &str {
    let endpoint = endpoint.trim_start_matches('/');
    endpoint
        .rsplit_once('/')
        .or_else(|| endpoint.rsplit_once('.'))
        .map_or(endpoint, |(service, _)| service)
}

/// `/pkg.Service/Method` from `pkg.Service/Method` or `pkg.Service.Method` (schema-less).
fn grpc_path(endpoint: &str) -> String {
    let endpoint = endpoint.trim_start_matches('/');
    match endpoint
        .rsplit_once('/')
        .or_else(|| endpoint.rsplit_once('.'))
    {
        Some((service, method)) => format!("/{service}/{method}"),
        None => format!("/{endpoint}"),
    }
}

/// `pkg.Service/Method` → `Service.Method`; other spellings are sent as given.
pub(super) fn go_micro_name(endpoint: &str) -> String {
    match endpoint.trim_start_matches('/').rsplit_once('/') {
        Some((service, method)) => {
            format!("{}.{method}", service.rsplit('.').next().unwrap_or(service))
        }
        None => endpoint.to_owned(),
    }
}

pub(super) fn read_data(data: Option<&str>) -> anyhow::Result<Vec<u8>> {
    match data {
        None => Ok(b"{}".to_vec()),
        Some("@-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read the request from stdin")?;
            Ok(bytes)
        }
        Some(text) => match text.strip_prefix('@') {
            Some(path) => {
                std::fs::read(path).with_context(|| format!("cannot read the request from {path}"))
            }
            None => Ok(text.as_bytes().to_vec()),
        },
    }
}

fn report(verbose: bool, event: AttemptEvent<'_>) {
    if !verbose {
        return;
    }
    match event {
        AttemptEvent::Started {
            attempt,
            attempts,
            address,
            node,
        } => match node {
            Some(node) => eprintln!("> attempt {attempt}/{attempts} to node {node} at {address}"),
            None => eprintln!("> attempt {attempt}/{attempts} to {address}"),
        },
        AttemptEvent::Failed {
            attempt,
            error,
            elapsed,
            retry_in,
        } => {
            let next = retry_in.map_or("giving up".to_owned(), |delay| {
                format!("retrying in {delay:?}")
            });
            eprintln!("! attempt {attempt} failed after {elapsed:.1?}: {error}; {next}");
        }
        AttemptEvent::Succeeded { attempt, elapsed } => {
            eprintln!("< attempt {attempt} answered in {elapsed:.1?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_spellings_become_go_micro_names() {
        assert_eq!(go_micro_name("pkg.Job/CreateJob"), "Job.CreateJob");
        assert_eq!(go_micro_name("/Job/CreateJob"), "Job.CreateJob");
        assert_eq!(go_micro_name("Job.CreateJob"), "Job.CreateJob");
        assert_eq!(service_part("pkg.Job/CreateJob"), "pkg.Job");
        assert_eq!(service_part("pkg.Job.CreateJob"), "pkg.Job");
        assert_eq!(service_part("Job.CreateJob"), "Job");
    }

    #[test]
    fn backoff_policies() {
        assert_eq!(
            parse_backoff("constant:200ms"),
            Ok(Backoff::Constant(std::time::Duration::from_millis(200)))
        );
        assert_eq!(parse_backoff("none"), Ok(Backoff::None));
        assert!(parse_backoff("sometimes").is_err());
    }
}
