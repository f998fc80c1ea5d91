//! The built-in `Debug` service (DESIGN.md "Built-in Debug service"): `Health` answers
//! `{"status":"ok"}` as go-micro does, `Stats` reports the router's figures, `Endpoints`
//! returns the service record in go-micro's registry shape plus the encoded schema,
//! `Requests` reads (and clears) the request journal. Its own schema
//! (`proto/debug.proto`) is embedded in the binary.

use super::journal::Journal;
use super::stats::Stats;
use super::{Handler, HandlerFuture, RouterOptions};
use crate::codec;
use crate::message::{Reply, Request};
use crate::schema::{endpoint_name, is_streaming, Schema};
use crate::status::{Code, Status};
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

const SOURCE: &str = include_str!("../../proto/debug.proto");

/// The schema of the Debug service, parsed once per process.
pub fn debug_schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let file = protox::file::File::from_source("rmicro/debug.proto", SOURCE)
            .expect("debug.proto parses");
        let mut pool = DescriptorPool::new();
        pool.add_file_descriptor_proto(file.file_descriptor_proto().clone())
            .expect("debug.proto is valid");
        Schema::from_pool(pool)
    })
}

fn debug_message(name: &str) -> MessageDescriptor {
    debug_schema()
        .pool()
        .get_message_by_name(&format!("rmicro.debug.{name}"))
        .expect("message of debug.proto")
}

/// What the Debug handlers share: the prepared replies, the router's statistics and its
/// journal, and the served schema (to resolve the endpoints `Requests` is asked about).
pub struct DebugState {
    health: Reply,
    endpoints: Reply,
    stats: Arc<Stats>,
    journal: Arc<Journal>,
    schema: Schema,
}

impl DebugState {
    pub fn new(
        record: Value,
        schema: &Schema,
        stats: Arc<Stats>,
        journal: Arc<Journal>,
    ) -> DebugState {
        let health =
            codec::from_json_value(&debug_message("HealthResponse"), &json!({"status": "ok"}))
                .expect("valid");
        // A schema read from another rmicro (a proxy's upstream) has its debug.proto,
        // perhaps of another version: this binary's takes its place.
        let own: Vec<_> = debug_schema()
            .pool()
            .file_descriptor_protos()
            .cloned()
            .collect();
        let mut files: Vec<_> = schema
            .pool()
            .file_descriptor_protos()
            .filter(|file| !own.iter().any(|own| own.name == file.name))
            .cloned()
            .collect();
        files.extend(own);
        let set = prost_types::FileDescriptorSet { file: files }.encode_to_vec();
        let service = codec::from_json_value(&debug_message("Service"), &record)
            .expect("the record matches debug.proto");
        let mut endpoints = DynamicMessage::new(debug_message("EndpointsResponse"));
        endpoints.set_field_by_name("service", prost_reflect::Value::Message(service));
        endpoints.set_field_by_name(
            "file_descriptor_set",
            prost_reflect::Value::Bytes(set.into()),
        );
        DebugState {
            health: Reply::Encoded(Arc::new(
                codec::encode_ahead(health).expect("Debug.Health has a JSON form"),
            )),
            endpoints: Reply::Encoded(Arc::new(
                codec::encode_ahead(endpoints).expect("Debug.Endpoints has a JSON form"),
            )),
            stats,
            journal,
            schema: schema.clone(),
        }
    }

    /// `Debug.Requests`: the journal's calls, of one endpoint and matching a request
    /// match when asked.
    fn requests_reply(&self, request: &DynamicMessage) -> Result<Reply, Status> {
        let text = |name: &str| {
            request
                .get_field_by_name(name)
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let (endpoint, given_match) = (text("endpoint"), text("match"));
        let clear = request
            .get_field_by_name("clear")
            .and_then(|value| value.as_bool())
            .unwrap_or(false);
        let method = match endpoint.as_str() {
            "" => None,
            name => Some(
                self.schema
                    .resolve(name)
                    .map_err(|error| Status::new(Code::NotFound, error.to_string()))?,
            ),
        };
        let matcher = match (given_match.trim(), &method) {
            ("", _) => None,
            (_, None) => {
                return Err(Status::invalid_argument(
                    "a match needs the endpoint whose requests it matches",
                ))
            }
            (text, Some(method)) => {
                let value: Value = serde_json::from_str(text).map_err(|error| {
                    Status::invalid_argument(format!("match is not JSON: {error}"))
                })?;
                Some(
                    super::matching::matcher(&method.input(), &value)
                        .map_err(|error| Status::invalid_argument(format!("match: {error:#}")))?,
                )
            }
        };
        let name = method.as_ref().map(endpoint_name);
        let (matching, nearest, dropped) =
            self.journal.query(name.as_deref(), matcher.as_ref(), clear);
        let entry = |entry: &Arc<super::journal::Entry>| {
            let mut value = entry.to_json();
            value["request"] = value["request"].to_string().into();
            value
        };
        let value = json!({
            "requests": matching.iter().map(entry).collect::<Vec<_>>(),
            "nearest": nearest.iter().map(entry).collect::<Vec<_>>(),
            "dropped": dropped,
        });
        codec::from_json_value(&debug_message("RequestsResponse"), &value)
            .map(Reply::Message)
            .map_err(|error| Status::internal(format!("the journal's reply: {error}")))
    }

    /// go-micro's figures. Over JSON only v1's fields: go-micro's JSON readers refuse
    /// fields their types lack, and v1's `StatsResponse` lacks `requests` and `errors`
    /// (v2+ has them; over protobuf, where unknown fields are skipped, they go too).
    fn stats_reply(&self) -> Reply {
        let now = unix_seconds(SystemTime::now());
        let started = unix_seconds(self.stats.started);
        let (memory, threads) = process_usage();
        let value = json!({"timestamp": now, "started": started, "uptime": now.saturating_sub(started), "memory": memory,
                           "threads": threads});
        let descriptor = debug_message("StatsResponse");
        let v1 = codec::from_json_value(&descriptor, &value).expect("stats match debug.proto");
        let (requests, errors) = self.totals();
        let mut full = v1.clone();
        full.set_field_by_name("requests", prost_reflect::Value::U64(requests));
        full.set_field_by_name("errors", prost_reflect::Value::U64(errors));
        Reply::Encoded(Arc::new(crate::message::EncodedMessage {
            json: codec::encode(codec::Codec::Json, &v1)
                .expect("stats have a JSON form")
                .into(),
            protobuf: full.encode_to_vec().into(),
            message: full,
        }))
    }

    fn totals(&self) -> (u64, u64) {
        let figures = self.stats.snapshot();
        (
            figures.iter().map(|figure| figure.total.count).sum(),
            figures.iter().map(|figure| figure.total.errors).sum(),
        )
    }

    /// rmicro's figures per endpoint.
    fn endpoint_stats_reply(&self) -> Reply {
        let figures = self.stats.snapshot();
        let (requests, errors) = self.totals();
        let endpoints: Vec<Value> = figures
            .iter()
            .map(|figure| {
                let total = &figure.total;
                let mut endpoint = json!({"endpoint": figure.name, "requests": total.count, "errors": total.errors,
                       "mean_ms": total.mean_ms, "p50_ms": total.p50_ms, "p99_ms": total.p99_ms, "max_ms": total.max_ms});
                if let Some(upstream) = &figure.upstream {
                    endpoint["upstream"] = json!({"requests": upstream.count, "errors": upstream.errors,
                       "mean_ms": upstream.mean_ms, "p50_ms": upstream.p50_ms, "p99_ms": upstream.p99_ms, "max_ms": upstream.max_ms});
                }
                endpoint
            })
            .collect();
        let value = json!({"requests": requests, "errors": errors, "endpoints": endpoints});
        Reply::Message(
            codec::from_json_value(&debug_message("EndpointStatsResponse"), &value)
                .expect("stats match debug.proto"),
        )
    }
}

#[derive(Clone, Copy)]
enum DebugMethod {
    Health,
    Stats,
    EndpointStats,
    Endpoints,
    Requests,
}

pub struct DebugHandler {
    method: DebugMethod,
    state: Arc<DebugState>,
}

impl DebugHandler {
    pub fn new(method: &MethodDescriptor, state: Arc<DebugState>) -> DebugHandler {
        let method = match method.name() {
            "Health" => DebugMethod::Health,
            "Stats" => DebugMethod::Stats,
            "EndpointStats" => DebugMethod::EndpointStats,
            "Endpoints" => DebugMethod::Endpoints,
            "Requests" => DebugMethod::Requests,
            other => unreachable!("debug.proto has no method {other}"),
        };
        DebugHandler { method, state }
    }
}

impl Handler for DebugHandler {
    fn handle(&self, request: Request) -> HandlerFuture<'_> {
        let reply = match self.method {
            DebugMethod::Health => Ok(self.state.health.clone()),
            DebugMethod::Stats => Ok(self.state.stats_reply()),
            DebugMethod::EndpointStats => Ok(self.state.endpoint_stats_reply()),
            DebugMethod::Endpoints => Ok(self.state.endpoints.clone()),
            DebugMethod::Requests => self.state.requests_reply(&request.body),
        };
        Box::pin(std::future::ready(reply))
    }

    fn kind(&self) -> &'static str {
        "debug"
    }
}

/// The protocols `rmicro serve` speaks on its port, as published in records.
pub const PROTOCOLS: &str = "mucp,jsonrpc,grpc";

/// The service record in go-micro's registry shape (spec §4.6), with each endpoint's
/// handler kind in its metadata.
pub fn service_record(listed: &[(&MethodDescriptor, &str)], options: &RouterOptions) -> Value {
    let endpoints: Vec<Value> = listed
        .iter()
        .map(|(method, kind)| {
            let mut metadata = serde_json::Map::new();
            metadata.insert("handler".into(), json!(kind));
            if is_streaming(method) {
                metadata.insert("stream".into(), json!("true"));
            }
            json!({
                "name": endpoint_name(method),
                "request": value_tree(&method.input(), 0),
                "response": value_tree(&method.output(), 0),
                "metadata": metadata,
            })
        })
        .collect();
    json!({"name": options.name, "version": options.version, "metadata": {"protocols": PROTOCOLS}, "endpoints": endpoints})
}

/// go-micro's `Value` tree of a message: fields named as their JSON tags, nested to
/// depth 3, leaves without values.
fn value_tree(message: &MessageDescriptor, depth: usize) -> Value {
    json!({"name": message.name(), "type": message.name(), "values": field_values(message, depth)})
}

fn field_values(message: &MessageDescriptor, depth: usize) -> Vec<Value> {
    message
        .fields()
        .map(|field| {
            // Leaves carry `"values": null`, as Go marshals a nil slice.
            let mut value = json!({"name": field.name(), "type": go_type(&field), "values": null});
            if let (Kind::Message(nested), false, true) = (field.kind(), field.is_map(), depth < 2)
            {
                value["values"] = json!(field_values(&nested, depth + 1));
            }
            value
        })
        .collect()
}

/// The Go type go-micro would show for a field.
fn go_type(field: &FieldDescriptor) -> String {
    fn kind_name(kind: &Kind) -> String {
        match kind {
            Kind::Double => "float64".into(),
            Kind::Float => "float32".into(),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "int32".into(),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "int64".into(),
            Kind::Uint32 | Kind::Fixed32 => "uint32".into(),
            Kind::Uint64 | Kind::Fixed64 => "uint64".into(),
            Kind::Bool => "bool".into(),
            Kind::String => "string".into(),
            Kind::Bytes => "[]byte".into(),
            Kind::Message(message) => message.name().into(),
            Kind::Enum(enumeration) => enumeration.name().into(),
        }
    }
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map fields are messages")
        };
        return format!(
            "map[{}]{}",
            kind_name(&entry.map_entry_key_field().kind()),
            kind_name(&entry.map_entry_value_field().kind())
        );
    }
    let name = kind_name(&field.kind());
    if field.is_list() {
        format!("[]{name}")
    } else {
        name
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Resident memory in bytes and thread count, from /proc (zero where unavailable).
fn process_usage() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:") * 1024, field("Threads:"))
}
