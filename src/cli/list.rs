//! `rmicro list`: a server's endpoints from `Debug.Endpoints`, or a local schema's, as a
//! table (endpoint, request, response, kind, handler) or `--output json`.

use super::args::{SchemaArgs, TargetArgs};
use super::inspect::{fetch_schema, ListFormat};
use crate::output;
use crate::schema::{endpoint_name, method_kind};
use clap::Args;
use serde_json::json;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    schema: SchemaArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// table (the default) or json.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: ListFormat,
}

pub fn run(args: ListArgs) -> anyhow::Result<()> {
    let (schema, record) = fetch_schema(&args.schema, &args.target)?;
    let handler_of = |name: &str| -> String {
        record
            .as_ref()
            .and_then(|record| record["endpoints"].as_array())
            .and_then(|endpoints| endpoints.iter().find(|endpoint| endpoint["name"] == name))
            .and_then(|endpoint| endpoint["metadata"]["handler"].as_str())
            .unwrap_or("-")
            .to_owned()
    };
    let rows: Vec<serde_json::Value> = schema
        .methods()
        .iter()
        .map(|method| {
            let name = endpoint_name(method);
            json!({
                "endpoint": name,
                "full_name": method.full_name(),
                "request": method.input().full_name(),
                "response": method.output().full_name(),
                "kind": method_kind(method),
                "handler": handler_of(&name),
            })
        })
        .collect();
    match args.output {
        ListFormat::Json => output::print_json(&json!(rows), false)?,
        ListFormat::Table => {
            let cells = |row: &serde_json::Value| {
                ["endpoint", "request", "response", "kind", "handler"]
                    .iter()
                    .map(|key| row[key].as_str().unwrap_or_default().to_owned())
                    .collect()
            };
            output::print_table(
                &["ENDPOINT", "REQUEST", "RESPONSE", "KIND", "HANDLER"],
                rows.iter().map(cells).collect(),
            )?;
        }
    }
    Ok(())
}
