//! `rmicro journal`: the calls a `rmicro serve` received (`Debug.Requests`), oldest
//! first, as a table or NDJSON (`-o json`, one entry a line, as `serve --journal FILE`
//! writes them); `--clear` empties the journal (between the cases of a test run).

use super::args::TargetArgs;
use super::inspect::{call_debug_with, ListFormat};
use crate::client::Client;
use crate::{codec, output};
use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct JournalArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Only this endpoint's calls (Service.Method).
    endpoint: Option<String>,
    /// Empty the journal (nothing is printed).
    #[arg(long)]
    clear: bool,
    /// table (the default) or json (NDJSON: one entry a line).
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: ListFormat,
}

/// What `Debug.Requests` answered: the entries (and the nearest that did not match),
/// each as NDJSON shows it.
pub struct Journal {
    pub requests: Vec<Value>,
    pub nearest: Vec<Value>,
}

/// Asks the server's journal for the calls of `endpoint` matching `matcher`.
pub fn fetch(
    client: &mut Client,
    endpoint: Option<&str>,
    matcher: Option<&str>,
    clear: bool,
) -> anyhow::Result<Journal> {
    let request = json!({
        "endpoint": endpoint.unwrap_or_default(),
        "match": matcher.unwrap_or_default(),
        "clear": clear,
    });
    let reply =
        codec::to_template_json_value(&call_debug_with(client, "Debug.Requests", &request)?);
    let entries = |key: &str| -> Vec<Value> {
        reply[key]
            .as_array()
            .map(|entries| entries.iter().map(entry).collect())
            .unwrap_or_default()
    };
    Ok(Journal {
        requests: entries("requests"),
        nearest: entries("nearest"),
    })
}

/// An entry as NDJSON shows it: the request as an object, no empty error message.
fn entry(given: &Value) -> Value {
    let mut entry = given.clone();
    if let Some(object) = entry.as_object_mut() {
        let request = object
            .get("request")
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        object.insert("request".into(), request);
        if object.get("message").and_then(Value::as_str) == Some("") {
            object.remove("message");
        }
    }
    entry
}

pub fn run(args: JournalArgs) -> anyhow::Result<()> {
    let mut client = args.target.client(None)?;
    let journal = fetch(&mut client, args.endpoint.as_deref(), None, args.clear)?;
    if args.clear {
        eprintln!("rmicro journal: cleared {} calls", journal.requests.len());
        return Ok(());
    }
    if args.output == ListFormat::Json {
        for entry in &journal.requests {
            output::print_json(entry, false)?;
        }
        return Ok(());
    }
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let rows = journal
        .requests
        .iter()
        .map(|entry| {
            vec![
                text(&entry["seq"]),
                text(&entry["time"]),
                text(&entry["protocol"]),
                text(&entry["endpoint"]),
                text(&entry["status"]),
                format!("{:.2}", entry["duration_ms"].as_f64().unwrap_or(0.0)),
                text(&entry["request"]),
            ]
        })
        .collect();
    output::print_table(
        &[
            "SEQ", "TIME", "PROTOCOL", "ENDPOINT", "STATUS", "MS", "REQUEST",
        ],
        rows,
    )?;
    Ok(())
}
