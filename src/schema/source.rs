//! `.proto` source from descriptors, for `describe --format proto` and `--proto-out-dir`:
//! text protoc (and protox) compile back into the same descriptors. Type names are
//! written fully qualified with a leading dot, so no scope rule can read them otherwise.
//! Standard options are kept; custom options are kept when the descriptors still carry
//! them (prost-types drops unknown option fields when it decodes a descriptor).
//! Depends on prost-reflect only.

use prost_reflect::{
    Cardinality, DynamicMessage, EnumDescriptor, ExtensionDescriptor, FieldDescriptor,
    FileDescriptor, Kind, MessageDescriptor, ServiceDescriptor, Syntax, Value,
};
use std::fmt::Write as _;

/// The whole file as `.proto` source.
pub fn render_file(file: &FileDescriptor) -> String {
    let proto = file.file_descriptor_proto();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// {} (written by rmicro from its descriptor)",
        file.name()
    );
    let _ = writeln!(
        out,
        "syntax = \"{}\";\n",
        match file.syntax() {
            Syntax::Proto2 => "proto2",
            Syntax::Proto3 => "proto3",
        }
    );
    if !file.package_name().is_empty() {
        let _ = writeln!(out, "package {};\n", file.package_name());
    }
    for (index, dependency) in proto.dependency.iter().enumerate() {
        let index = index as i32;
        let kind = if proto.public_dependency.contains(&index) {
            "public "
        } else if proto.weak_dependency.contains(&index) {
            "weak "
        } else {
            ""
        };
        let _ = writeln!(out, "import {kind}{};", quote(dependency.as_bytes()));
    }
    if !proto.dependency.is_empty() {
        out.push('\n');
    }
    let options = option_statements(&file.options(), 0);
    if !options.is_empty() {
        out.push_str(&options);
        out.push('\n');
    }
    let syntax = file.syntax();
    for message in file.messages() {
        render_message(&mut out, &message, syntax, 0);
        out.push('\n');
    }
    for enumeration in file.enums() {
        render_enum(&mut out, &enumeration, 0);
        out.push('\n');
    }
    render_extensions(&mut out, file.extensions(), syntax, 0);
    for service in file.services() {
        render_service(&mut out, &service);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

fn render_message(out: &mut String, message: &MessageDescriptor, syntax: Syntax, level: usize) {
    let pad = indent(level);
    let _ = writeln!(out, "{pad}message {} {{", message.name());
    out.push_str(&option_statements(&message.options(), level + 1));
    let inner = indent(level + 1);
    let ranges: Vec<String> = message
        .reserved_ranges()
        .map(|range| number_range(range.start, range.end - 1))
        .collect();
    if !ranges.is_empty() {
        let _ = writeln!(out, "{inner}reserved {};", ranges.join(", "));
    }
    let names: Vec<String> = message
        .reserved_names()
        .map(|name| quote(name.as_bytes()))
        .collect();
    if !names.is_empty() {
        let _ = writeln!(out, "{inner}reserved {};", names.join(", "));
    }
    let mut oneofs_done: Vec<String> = Vec::new();
    for field in message.fields() {
        match field
            .containing_oneof()
            .filter(|oneof| !oneof.is_synthetic())
        {
            Some(oneof) => {
                if oneofs_done.contains(&oneof.name().to_owned()) {
                    continue;
                }
                oneofs_done.push(oneof.name().to_owned());
                let _ = writeln!(out, "{inner}oneof {} {{", oneof.name());
                out.push_str(&option_statements(&oneof.options(), level + 2));
                for member in oneof.fields() {
                    let _ = writeln!(
                        out,
                        "{}{};",
                        indent(level + 2),
                        field_line(&member, syntax, true)
                    );
                }
                let _ = writeln!(out, "{inner}}}");
            }
            None => {
                let _ = writeln!(out, "{inner}{};", field_line(&field, syntax, false));
            }
        }
    }
    let extension_ranges: Vec<String> = message
        .descriptor_proto()
        .extension_range
        .iter()
        .map(|range| number_range(range.start() as u32, range.end() as u32 - 1))
        .collect();
    if !extension_ranges.is_empty() {
        let _ = writeln!(out, "{inner}extensions {};", extension_ranges.join(", "));
    }
    for child in message
        .child_messages()
        .filter(|child| !child.is_map_entry())
    {
        render_message(out, &child, syntax, level + 1);
    }
    for child in message.child_enums() {
        render_enum(out, &child, level + 1);
    }
    render_extensions(out, message.child_extensions(), syntax, level + 1);
    let _ = writeln!(out, "{pad}}}");
}

/// `a`, `a to b` or `a to max`, from an inclusive range.
fn number_range(start: u32, end: u32) -> String {
    const MAX_FIELD_NUMBER: u32 = 536_870_911;
    match end {
        _ if end == start => start.to_string(),
        MAX_FIELD_NUMBER => format!("{start} to max"),
        _ => format!("{start} to {end}"),
    }
}

/// `label type name = number [options]`, without the semicolon.
fn field_line(field: &FieldDescriptor, syntax: Syntax, in_oneof: bool) -> String {
    let proto = field.field_descriptor_proto();
    let label = if field.is_map() || in_oneof {
        ""
    } else {
        match (field.cardinality(), syntax) {
            (Cardinality::Repeated, _) => "repeated ",
            (Cardinality::Required, _) => "required ",
            (Cardinality::Optional, Syntax::Proto2) => "optional ",
            (Cardinality::Optional, Syntax::Proto3) if proto.proto3_optional() => "optional ",
            (Cardinality::Optional, Syntax::Proto3) => "",
        }
    };
    let mut options = Vec::new();
    if let Some(default) = &proto.default_value {
        options.push(format!("default = {}", default_literal(field, default)));
    }
    if proto
        .json_name
        .as_deref()
        .is_some_and(|name| name != default_json_name(field.name()))
    {
        options.push(format!(
            "json_name = {}",
            quote(field.json_name().as_bytes())
        ));
    }
    options.extend(inline_options(&field.options()));
    let options = match options.is_empty() {
        true => String::new(),
        false => format!(" [{}]", options.join(", ")),
    };
    format!(
        "{label}{} {} = {}{options}",
        type_name(field),
        field.name(),
        field.number()
    )
}

fn type_name(field: &FieldDescriptor) -> String {
    if field.is_map() {
        if let Kind::Message(entry) = field.kind() {
            return format!(
                "map<{}, {}>",
                kind_name(&entry.map_entry_key_field().kind()),
                kind_name(&entry.map_entry_value_field().kind())
            );
        }
    }
    kind_name(&field.kind())
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(message) => format!(".{}", message.full_name()),
        Kind::Enum(enumeration) => format!(".{}", enumeration.full_name()),
    }
}

/// protoc's default JSON name: underscores dropped, the letter after each upper-cased.
fn default_json_name(name: &str) -> String {
    let mut json = String::with_capacity(name.len());
    let mut upper = false;
    for character in name.chars() {
        if character == '_' {
            upper = true;
        } else if upper {
            json.extend(character.to_uppercase());
            upper = false;
        } else {
            json.push(character);
        }
    }
    json
}

/// A proto2 default as the descriptor holds it (bytes already C-escaped), as source.
fn default_literal(field: &FieldDescriptor, default: &str) -> String {
    match field.kind() {
        Kind::String => quote(default.as_bytes()),
        Kind::Bytes => format!("\"{default}\""),
        _ => default.to_owned(),
    }
}

fn render_enum(out: &mut String, enumeration: &EnumDescriptor, level: usize) {
    let pad = indent(level);
    let inner = indent(level + 1);
    let _ = writeln!(out, "{pad}enum {} {{", enumeration.name());
    out.push_str(&option_statements(&enumeration.options(), level + 1));
    // In declaration order (prost-reflect lists values by number).
    let declared = &enumeration.enum_descriptor_proto().value;
    for value in declared
        .iter()
        .filter_map(|value| enumeration.get_value_by_name(value.name()))
    {
        let options = inline_options(&value.options());
        let options = match options.is_empty() {
            true => String::new(),
            false => format!(" [{}]", options.join(", ")),
        };
        let _ = writeln!(
            out,
            "{inner}{} = {}{options};",
            value.name(),
            value.number()
        );
    }
    let ranges: Vec<String> = enumeration
        .reserved_ranges()
        .map(|range| match (*range.start(), *range.end()) {
            (start, end) if start == end => start.to_string(),
            (start, i32::MAX) => format!("{start} to max"),
            (start, end) => format!("{start} to {end}"),
        })
        .collect();
    if !ranges.is_empty() {
        let _ = writeln!(out, "{inner}reserved {};", ranges.join(", "));
    }
    let names: Vec<String> = enumeration
        .reserved_names()
        .map(|name| quote(name.as_bytes()))
        .collect();
    if !names.is_empty() {
        let _ = writeln!(out, "{inner}reserved {};", names.join(", "));
    }
    let _ = writeln!(out, "{pad}}}");
}

/// `extend .pkg.Message { … }` blocks, one per extended message, in first-seen order.
fn render_extensions(
    out: &mut String,
    extensions: impl Iterator<Item = ExtensionDescriptor>,
    syntax: Syntax,
    level: usize,
) {
    let mut groups: Vec<(String, Vec<ExtensionDescriptor>)> = Vec::new();
    for extension in extensions {
        let extendee = extension.containing_message().full_name().to_owned();
        match groups.iter_mut().find(|(name, _)| *name == extendee) {
            Some((_, members)) => members.push(extension),
            None => groups.push((extendee, vec![extension])),
        }
    }
    let pad = indent(level);
    for (extendee, members) in groups {
        let _ = writeln!(out, "{pad}extend .{extendee} {{");
        for extension in members {
            let proto = extension.field_descriptor_proto();
            let label = match (extension.cardinality(), syntax) {
                (Cardinality::Repeated, _) => "repeated ",
                (Cardinality::Required, _) => "required ",
                (Cardinality::Optional, Syntax::Proto2) => "optional ",
                (Cardinality::Optional, Syntax::Proto3) => "",
            };
            let mut options = Vec::new();
            if let Some(default) = &proto.default_value {
                let literal = match extension.kind() {
                    Kind::String => quote(default.as_bytes()),
                    Kind::Bytes => format!("\"{default}\""),
                    _ => default.clone(),
                };
                options.push(format!("default = {literal}"));
            }
            options.extend(inline_options(&extension.options()));
            let options = match options.is_empty() {
                true => String::new(),
                false => format!(" [{}]", options.join(", ")),
            };
            let _ = writeln!(
                out,
                "{}{label}{} {} = {}{options};",
                indent(level + 1),
                kind_name(&extension.kind()),
                extension.name(),
                extension.number()
            );
        }
        let _ = writeln!(out, "{pad}}}\n");
    }
}

fn render_service(out: &mut String, service: &ServiceDescriptor) {
    let _ = writeln!(out, "service {} {{", service.name());
    out.push_str(&option_statements(&service.options(), 1));
    for method in service.methods() {
        let stream = |streams: bool| if streams { "stream " } else { "" };
        let options = option_statements(&method.options(), 2);
        let body = match options.is_empty() {
            true => ";".to_owned(),
            false => format!(" {{\n{options}  }}"),
        };
        let _ = writeln!(
            out,
            "  rpc {}({}.{}) returns ({}.{}){body}",
            method.name(),
            stream(method.is_client_streaming()),
            method.input().full_name(),
            stream(method.is_server_streaming()),
            method.output().full_name()
        );
    }
    let _ = writeln!(out, "}}");
}

/// The options set in `options` as `name = value` pairs (custom ones as `(full.name)`),
/// one per element for a repeated option.
fn option_pairs(options: &DynamicMessage) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut add = |name: String, kind: Kind, value: &Value| match value {
        Value::List(items) => {
            for item in items {
                pairs.push((name.clone(), literal(&kind, item)));
            }
        }
        value => pairs.push((name, literal(&kind, value))),
    };
    for (field, value) in options.fields() {
        add(field.name().to_owned(), field.kind(), value);
    }
    for (extension, value) in options.extensions() {
        add(
            format!("({})", extension.full_name()),
            extension.kind(),
            value,
        );
    }
    pairs
}

fn option_statements(options: &DynamicMessage, level: usize) -> String {
    option_pairs(options)
        .into_iter()
        .map(|(name, value)| format!("{}option {name} = {value};\n", indent(level)))
        .collect()
}

fn inline_options(options: &DynamicMessage) -> Vec<String> {
    option_pairs(options)
        .into_iter()
        .map(|(name, value)| format!("{name} = {value}"))
        .collect()
}

/// An option's value in the text format protoc reads (messages as `{ field: value … }`).
fn literal(kind: &Kind, value: &Value) -> String {
    match value {
        Value::Bool(value) => value.to_string(),
        Value::I32(value) => value.to_string(),
        Value::I64(value) => value.to_string(),
        Value::U32(value) => value.to_string(),
        Value::U64(value) => value.to_string(),
        Value::F32(value) => float(f64::from(*value)),
        Value::F64(value) => float(*value),
        Value::String(value) => quote(value.as_bytes()),
        Value::Bytes(value) => quote(value),
        Value::EnumNumber(number) => match kind {
            Kind::Enum(enumeration) => enumeration
                .get_value(*number)
                .map_or_else(|| number.to_string(), |value| value.name().to_owned()),
            _ => number.to_string(),
        },
        Value::Message(message) => {
            let mut parts = Vec::new();
            for (field, value) in message.fields() {
                let items: Vec<&Value> = match value {
                    Value::List(items) => items.iter().collect(),
                    value => vec![value],
                };
                for item in items {
                    parts.push(format!(
                        "{}: {}",
                        field.name(),
                        literal(&field.kind(), item)
                    ));
                }
            }
            for (extension, value) in message.extensions() {
                parts.push(format!(
                    "[{}]: {}",
                    extension.full_name(),
                    literal(&extension.kind(), value)
                ));
            }
            format!("{{ {} }}", parts.join(" "))
        }
        Value::List(items) => items
            .iter()
            .map(|item| literal(kind, item))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Map(_) => "{}".into(),
    }
}

fn float(value: f64) -> String {
    if value.is_nan() {
        "nan".into()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{value:?}")
    }
}

/// A string literal with C escapes for quotes, backslashes and non-printable bytes.
fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    let text = std::str::from_utf8(bytes);
    match text {
        Ok(text) => {
            for character in text.chars() {
                match character {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    character if (character as u32) < 0x20 || character as u32 == 0x7f => {
                        let _ = write!(out, "\\{:03o}", character as u32);
                    }
                    character => out.push(character),
                }
            }
        }
        Err(_) => {
            for &byte in bytes {
                match byte {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    0x20..=0x7e => out.push(byte as char),
                    _ => {
                        let _ = write!(out, "\\{byte:03o}");
                    }
                }
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use prost_reflect::DescriptorPool;

    const SOURCE: &str = r#"
        syntax = "proto3";
        package t.v1;
        import "google/protobuf/timestamp.proto";
        import "google/protobuf/descriptor.proto";
        option go_package = "example.com/t;t";
        extend google.protobuf.MethodOptions { string route = 50001; }
        message Job {
          reserved 9, 20 to 30;
          reserved "old";
          string id = 1 [json_name = "jobId", deprecated = true];
          optional int64 size = 2;
          map<string, Job> children = 3;
          repeated Kind kinds = 4 [packed = false];
          oneof target { string host = 5; int32 port = 6; }
          google.protobuf.Timestamp at = 7;
          message Inner { bytes raw = 1; }
          Inner inner = 8;
          enum Kind { option allow_alias = true; KIND_UNSPECIFIED = 0; KIND_A = 1; KIND_ALIAS = 1; }
        }
        service Jobs {
          rpc Get(Job) returns (Job) { option idempotency_level = NO_SIDE_EFFECTS; }
          rpc Watch(stream Job) returns (stream Job);
        }
    "#;

    const PROTO2: &str = r#"
        syntax = "proto2";
        package p;
        message Old {
          required string name = 1 [default = "a \"b\""];
          optional int32 count = 2 [default = -3];
          optional bytes blob = 3 [default = "\001x"];
          optional E e = 4 [default = TWO];
          extensions 100 to max;
        }
        enum E { ONE = 1; TWO = 2; }
        extend Old { optional string note = 100; }
    "#;

    fn compile(files: &[(&str, &str)]) -> DescriptorPool {
        let dir = tempfile::tempdir().unwrap();
        for (name, source) in files {
            std::fs::write(dir.path().join(name), source).unwrap();
        }
        let names: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
        let set = protox::compile(names, [dir.path()]).unwrap();
        DescriptorPool::from_file_descriptor_set(set).unwrap()
    }

    /// The source written compiles to the same descriptor (source info aside).
    #[test]
    fn rendered_source_compiles_back_to_the_same_descriptor() {
        for (name, source) in [("t.proto", SOURCE), ("p.proto", PROTO2)] {
            let pool = compile(&[(name, source)]);
            let file = pool.get_file_by_name(name).unwrap();
            let rendered = render_file(&file);
            let again = compile(&[(name, &rendered)]);
            let mut want = file.file_descriptor_proto().clone();
            let mut got = again
                .get_file_by_name(name)
                .unwrap()
                .file_descriptor_proto()
                .clone();
            want.source_code_info = None;
            got.source_code_info = None;
            assert_eq!(
                got.encode_to_vec(),
                want.encode_to_vec(),
                "{rendered}\n--- got {got:#?}\n--- want {want:#?}"
            );
        }
    }
}
