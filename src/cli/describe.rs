//! `rmicro describe SYMBOL`: an endpoint's request and response layouts in proto syntax
//! (with the messages they use) and a JSON template of the request; or one message's;
//! or a service's methods in proto syntax with the messages they use. Of a go-micro
//! server with no schema given, an endpoint's fields as its registry record has them.

use super::args::{SchemaArgs, SchemaOutArgs, TargetArgs};
use super::call::go_micro_name;
use super::inspect::{fetch_schema, Found};
use super::registered::{self, Registered};
use crate::output;
use crate::registry::record::EndpointRecord;
use crate::schema::{endpoint_name, method_kind};
use clap::Args;
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{json, Value};
use std::fmt::Write as _;

#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// An endpoint (Job.CreateJob, pkg.Job/CreateJob), a message (pkg.Task) or a service
    /// (pkg.Job).
    #[arg(add = clap_complete::ArgValueCandidates::new(super::complete::symbols))]
    symbol: String,
    #[command(flatten)]
    schema: SchemaArgs,
    #[command(flatten)]
    schema_out: SchemaOutArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// table (readable text, the default), json, or proto: the whole .proto file that
    /// defines SYMBOL, as source protoc compiles.
    #[arg(
        short = 'o',
        long,
        visible_alias = "format",
        value_enum,
        default_value = "table"
    )]
    output: DescribeFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
enum DescribeFormat {
    Table,
    Json,
    Proto,
}

pub fn run(args: DescribeArgs) -> anyhow::Result<()> {
    let schema = match fetch_schema(&args.schema, &args.target, Some(&args.symbol))? {
        Found::Schema(schema, _) => schema,
        Found::Record {
            registered,
            address,
        } => {
            args.schema_out.write(None)?;
            return describe_registered(&args, &address, &registered);
        }
    };
    args.schema_out.write(Some(&schema))?;
    if args.output == DescribeFormat::Proto {
        let file = defining_file(&schema, &args.symbol)?;
        output::print_raw(crate::schema::source::render_file(&file).as_bytes())?;
        return Ok(());
    }
    let message = schema
        .pool()
        .get_message_by_name(args.symbol.trim_start_matches('.'))
        .or_else(|| {
            schema
                .pool()
                .all_messages()
                .find(|message| message.name() == args.symbol)
        });
    let symbol = args.symbol.trim_start_matches('.');
    if let Some(service) = schema
        .services()
        .into_iter()
        .find(|service| service.full_name() == symbol || service.name() == symbol)
    {
        let mut text = format!("service {} {{\n", service.full_name());
        let mut shown = Vec::new();
        for method in service.methods() {
            let stream = |streams: bool| if streams { "stream " } else { "" };
            let _ = writeln!(
                text,
                "  rpc {}({}{}) returns ({}{});",
                method.name(),
                stream(method.is_client_streaming()),
                method.input().full_name(),
                stream(method.is_server_streaming()),
                method.output().full_name()
            );
            shown.extend([method.input(), method.output()]);
        }
        text.push_str("}\n");
        let definitions: Vec<String> = referenced(&shown).iter().map(render_message).collect();
        if args.output == DescribeFormat::Json {
            return Ok(output::print_json(
                &json!({"symbol": args.symbol, "summary": text, "definitions": definitions}),
                false,
            )?);
        }
        output::print_raw(format!("{text}\n{}", definitions.join("\n")).as_bytes())?;
        return Ok(());
    }
    let (heading, shown, request) = match message {
        Some(message) => (
            format!("message {}", message.full_name()),
            vec![message.clone()],
            message,
        ),
        None => {
            let method = schema.resolve(&args.symbol)?;
            let heading = format!(
                "{} ({}, {})\n  request:  {}\n  response: {}",
                endpoint_name(&method),
                method.full_name(),
                method_kind(&method),
                method.input().full_name(),
                method.output().full_name()
            );
            (
                heading,
                vec![method.input(), method.output()],
                method.input(),
            )
        }
    };
    let template = template(&request, 0);
    if args.output == DescribeFormat::Json {
        let definitions: Vec<String> = referenced(&shown).iter().map(render_message).collect();
        return Ok(output::print_json(
            &json!({"symbol": args.symbol, "summary": heading, "definitions": definitions, "template": template}),
            false,
        )?);
    }
    let mut text = format!("{heading}\n\n");
    for message in referenced(&shown) {
        text.push_str(&render_message(&message));
        text.push('\n');
    }
    let _ = write!(
        text,
        "request template ({}):\n{}\n",
        request.full_name(),
        serde_json::to_string_pretty(&template)?
    );
    output::print_raw(text.as_bytes())?;
    Ok(())
}

/// `symbol` from a registry record: an endpoint (`Job.Watch`), or every endpoint of a
/// handler (`Job`) or of the service (its registered name), each with its request and
/// response fields as go-micro's reflection recorded them.
fn describe_registered(
    args: &DescribeArgs,
    address: &str,
    registered: &Registered,
) -> anyhow::Result<()> {
    if args.output == DescribeFormat::Proto {
        anyhow::bail!(
            "no .proto to show: {} has names and Go types only; pass --proto or --descriptor-set",
            registered.source
        );
    }
    let symbol = args.symbol.trim_start_matches('.');
    let endpoint = go_micro_name(symbol);
    let chosen: Vec<&EndpointRecord> = match registered.endpoint(&endpoint) {
        Some(one) => vec![one],
        None => registered
            .endpoints()
            .filter(|record| {
                symbol == registered.name()
                    || record
                        .name
                        .split_once('.')
                        .is_some_and(|(handler, _)| handler == symbol)
            })
            .collect(),
    };
    if chosen.is_empty() {
        let names = registered.endpoints().map(|record| record.name.as_str());
        let suggestions = crate::suggest::closest(symbol, names);
        anyhow::bail!(
            "{} has no endpoint {symbol}{}",
            registered.source,
            match suggestions.is_empty() {
                true => String::new(),
                false => crate::suggest::did_you_mean(&suggestions),
            }
        );
    }
    if args.output == DescribeFormat::Json {
        let endpoints: Vec<Value> = chosen
            .iter()
            .map(|record| {
                json!({
                    "endpoint": record.name,
                    "kind": registered::kind(record),
                    "request": registered::value_json(&record.request),
                    "response": registered::value_json(&record.response),
                })
            })
            .collect();
        return Ok(output::print_json(
            &json!({"symbol": args.symbol, "source": registered.source, "endpoints": endpoints}),
            false,
        )?);
    }
    let mut text = String::new();
    for record in chosen {
        let _ = writeln!(text, "{} ({})", record.name, registered::kind(record));
        for (side, value) in [
            ("request: ", &record.request),
            ("response:", &record.response),
        ] {
            let _ = writeln!(text, "  {side} {}", registered::type_name(value));
            registered::render_fields(value, 0, &mut text);
        }
        text.push('\n');
    }
    let _ = writeln!(
        text,
        "{address} has no Debug.Endpoints; this is from {}: field names and Go types as go-micro's reflection recorded them, no field numbers (so no .proto, no protobuf)",
        registered.source
    );
    output::print_raw(text.as_bytes())?;
    Ok(())
}

/// The file that defines `symbol`: a service, message or enum by full or short name, or
/// an endpoint.
fn defining_file(
    schema: &crate::schema::Schema,
    symbol: &str,
) -> anyhow::Result<prost_reflect::FileDescriptor> {
    let name = symbol.trim_start_matches('.');
    let pool = schema.pool();
    if let Some(service) = pool
        .services()
        .find(|service| service.full_name() == name || service.name() == name)
    {
        return Ok(service.parent_file());
    }
    if let Some(message) = pool
        .get_message_by_name(name)
        .or_else(|| pool.all_messages().find(|message| message.name() == name))
    {
        return Ok(message.parent_file());
    }
    if let Some(enumeration) = pool.get_enum_by_name(name) {
        return Ok(enumeration.parent_file());
    }
    Ok(schema.resolve(symbol)?.parent_service().parent_file())
}

/// The messages given, then every message they use (not the well-known types), once each.
fn referenced(roots: &[MessageDescriptor]) -> Vec<MessageDescriptor> {
    let mut found: Vec<MessageDescriptor> = Vec::new();
    let mut pending: Vec<MessageDescriptor> = roots.iter().rev().cloned().collect();
    while let Some(message) = pending.pop() {
        if found.contains(&message) || is_well_known(&message) || message.is_map_entry() {
            if message.is_map_entry() {
                pending.extend(message.fields().filter_map(|field| as_message(&field)));
            }
            continue;
        }
        pending.extend(
            message
                .fields()
                .filter_map(|field| as_message(&field))
                .collect::<Vec<_>>()
                .into_iter()
                .rev(),
        );
        found.push(message);
    }
    found
}

fn as_message(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    match field.kind() {
        Kind::Message(message) => Some(message),
        _ => None,
    }
}

fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

/// A message in proto syntax, oneofs grouped.
fn render_message(message: &MessageDescriptor) -> String {
    let mut text = format!("message {} {{\n", message.full_name());
    let mut done_oneofs = Vec::new();
    for field in message.fields() {
        match field
            .containing_oneof()
            .filter(|oneof| !oneof.is_synthetic())
        {
            Some(oneof) if done_oneofs.contains(&oneof.name().to_owned()) => {}
            Some(oneof) => {
                done_oneofs.push(oneof.name().to_owned());
                let _ = writeln!(text, "  oneof {} {{", oneof.name());
                for member in oneof.fields() {
                    let _ = writeln!(text, "    {};", render_field(&member));
                }
                text.push_str("  }\n");
            }
            None => {
                let _ = writeln!(text, "  {};", render_field(&field));
            }
        }
    }
    text.push_str("}\n");
    text
}

fn render_field(field: &FieldDescriptor) -> String {
    let kind = |kind: Kind| match kind {
        Kind::Message(message) => message.full_name().to_owned(),
        Kind::Enum(enumeration) => {
            let values: Vec<String> = enumeration
                .values()
                .map(|value| value.name().to_owned())
                .collect();
            format!("{} /* {} */", enumeration.full_name(), values.join(" | "))
        }
        scalar => format!("{scalar:?}").to_lowercase(),
    };
    let label = if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map fields are messages")
        };
        format!(
            "map<{}, {}>",
            kind(entry.map_entry_key_field().kind()),
            kind(entry.map_entry_value_field().kind())
        )
    } else if field.is_list() {
        format!("repeated {}", kind(field.kind()))
    } else if field
        .containing_oneof()
        .is_some_and(|oneof| oneof.is_synthetic())
    {
        format!("optional {}", kind(field.kind()))
    } else {
        kind(field.kind())
    };
    format!("{label} {} = {}", field.name(), field.number())
}

/// A request template: every field with a placeholder of its type (first member of each oneof).
fn template(message: &MessageDescriptor, depth: usize) -> Value {
    if let Some(value) = well_known_template(message) {
        return value;
    }
    let mut object = serde_json::Map::new();
    let mut seen_oneofs = Vec::new();
    for field in message.fields() {
        if let Some(oneof) = field
            .containing_oneof()
            .filter(|oneof| !oneof.is_synthetic())
        {
            if seen_oneofs.contains(&oneof.name().to_owned()) {
                continue;
            }
            seen_oneofs.push(oneof.name().to_owned());
        }
        let value = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                unreachable!("map fields are messages")
            };
            json!({ "key": scalar_template(&entry.map_entry_value_field(), depth) })
        } else if field.is_list() {
            json!([scalar_template(&field, depth)])
        } else {
            scalar_template(&field, depth)
        };
        object.insert(field.json_name().to_owned(), value);
    }
    Value::Object(object)
}

fn scalar_template(field: &FieldDescriptor, depth: usize) -> Value {
    match field.kind() {
        Kind::Message(_) if depth >= 3 => json!({}),
        Kind::Message(message) => template(&message, depth + 1),
        Kind::Enum(enumeration) => json!(enumeration
            .values()
            .next()
            .map(|value| value.name().to_owned())
            .unwrap_or_default()),
        Kind::String | Kind::Bytes => json!(""),
        Kind::Bool => json!(false),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => json!("0"),
        Kind::Double | Kind::Float => json!(0.0),
        _ => json!(0),
    }
}

fn well_known_template(message: &MessageDescriptor) -> Option<Value> {
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!("1970-01-01T00:00:00Z"),
        "google.protobuf.Duration" => json!("0s"),
        "google.protobuf.FieldMask" => json!(""),
        "google.protobuf.Value" => Value::Null,
        "google.protobuf.ListValue" => json!([]),
        "google.protobuf.StringValue" | "google.protobuf.BytesValue" => json!(""),
        "google.protobuf.BoolValue" => json!(false),
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => json!("0"),
        "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue" => json!(0),
        name if name.starts_with("google.protobuf.") => json!({}),
        _ => return None,
    })
}
