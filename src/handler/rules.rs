//! The handlers file (`--handlers`, DESIGN.md "Handlers file"): JSON keyed by endpoint, a
//! rule or a list of rules per endpoint. Everything is checked against the schema at
//! start-up — endpoint names, match fields, replies, error codes, durations, commands —
//! and a bad file is refused naming the file, the endpoint and the field.

use super::exec::{ExecHandler, ExecLimits};
use super::stub::{Action, Condition, Matcher, Rule, StubHandler};
use super::Handler;
use crate::codec::{self, details};
use crate::schema::{is_streaming, Schema};
use crate::status::{Code, Status};
use anyhow::{anyhow, bail, Context};
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, MethodDescriptor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// One rule as written in the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    #[serde(rename = "match")]
    request: Option<Value>,
    metadata: Option<HashMap<String, String>>,
    reply: Option<Value>,
    interval: Option<String>,
    error: Option<ErrorSpec>,
    delay: Option<String>,
    sequence: Option<Vec<Value>>,
    exec: Option<Vec<String>>,
    timeout: Option<String>,
    concurrency: Option<usize>,
    proxy: Option<String>,
}

/// `{"code": 404, "detail": "..."}` (go-micro codes) or `{"status": "NOT_FOUND", ...}`,
/// with optional `"details": [{"@type": "google.rpc.ErrorInfo", ...}]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpec {
    code: Option<u16>,
    status: Option<String>,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    details: Vec<Value>,
}

impl ErrorSpec {
    /// The status this error stands for, detail types resolved in `schema` or among
    /// google.rpc's standard ones.
    pub fn to_status(&self, schema: &DescriptorPool) -> Result<Status, String> {
        let named = self.status.as_deref().and_then(Code::from_name);
        let code = named
            .or_else(|| self.code.map(|code| Code::from_http(code.into())))
            .ok_or(
                "give a go-micro \"code\" (e.g. 404) or a gRPC \"status\" (e.g. \"NOT_FOUND\")",
            )?;
        let details = self
            .details
            .iter()
            .map(|detail| details::from_json(detail, Some(schema)))
            .collect::<Result<_, _>>()?;
        Ok(Status {
            id: self.id.clone(),
            http_code: self.code,
            details,
            ..Status::new(code, self.detail.clone())
        })
    }
}

/// The validated handlers of a handlers file, by method full name.
#[derive(Default)]
pub struct HandlerRules {
    handlers: HashMap<String, Box<dyn Handler>>,
}

impl HandlerRules {
    /// Reads and validates a handlers file against `schema`; its exec handlers run within
    /// `limits`.
    pub fn load(path: &Path, schema: &Schema, limits: &ExecLimits) -> anyhow::Result<HandlerRules> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read handlers file {}", path.display()))?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &base_dir, schema, limits)
            .with_context(|| format!("handlers file {}", path.display()))
    }

    fn parse(
        text: &str,
        base_dir: &Path,
        schema: &Schema,
        limits: &ExecLimits,
    ) -> anyhow::Result<HandlerRules> {
        let file: Map<String, Value> =
            serde_json::from_str(text).map_err(|error| anyhow!("not a JSON object: {error}"))?;
        let mut handlers: HashMap<String, Box<dyn Handler>> = HashMap::new();
        for (name, value) in file {
            let method = schema.resolve(&name).map_err(|error| anyhow!("{error}"))?;
            let context = Compile {
                method: &method,
                base_dir,
                limits,
            };
            let rules = match value {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        context
                            .rule(item, true)
                            .with_context(|| format!("rule {}", i + 1))
                    })
                    .collect::<Result<_, _>>(),
                item => context.rule(&item, true).map(|rule| vec![rule]),
            }
            .with_context(|| format!("endpoint {name}"))?;
            if is_streaming(&method)
                && rules.len() > 1
                && rules
                    .iter()
                    .any(|rule: &Rule| matches!(rule.action, Action::Exec(_)))
            {
                bail!("endpoint {name}: exec on a streaming method runs once per call, so it must be the endpoint's only rule");
            }
            if handlers
                .insert(
                    method.full_name().to_owned(),
                    Box::new(StubHandler::new(rules)),
                )
                .is_some()
            {
                bail!("endpoint {name} is given twice (under two spellings)");
            }
        }
        Ok(HandlerRules { handlers })
    }

    /// The handler configured for `method`, if any.
    pub fn take(&mut self, method: &MethodDescriptor) -> Option<Box<dyn Handler>> {
        self.handlers.remove(method.full_name())
    }
}

/// What compiling a rule needs to know.
struct Compile<'a> {
    method: &'a MethodDescriptor,
    base_dir: &'a Path,
    limits: &'a ExecLimits,
}

impl Compile<'_> {
    fn rule(&self, value: &Value, conditions_allowed: bool) -> anyhow::Result<Rule> {
        let spec: RuleSpec =
            serde_json::from_value(value.clone()).map_err(|error| anyhow!("{error}"))?;
        let has_condition = spec.request.is_some() || spec.metadata.is_some();
        if has_condition && !conditions_allowed {
            bail!("a rule inside a sequence cannot have match or metadata conditions");
        }
        let condition = Condition {
            request: spec
                .request
                .as_ref()
                .map(|value| matcher(&self.method.input(), value).context("match"))
                .transpose()?,
            metadata: spec
                .metadata
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        };
        let delay = spec
            .delay
            .as_deref()
            .map(|text| duration(text).context("delay"))
            .transpose()?;
        let actions = [
            spec.reply.is_some(),
            spec.error.is_some(),
            spec.sequence.is_some(),
            spec.exec.is_some(),
            spec.proxy.is_some(),
        ];
        if actions.iter().filter(|given| **given).count() > 1 {
            bail!("a rule takes one of reply, error, sequence, exec and proxy, not several");
        }
        if spec.timeout.is_some() && spec.exec.is_none() {
            bail!("timeout applies to exec rules only (use delay to slow a reply)");
        }
        match spec.concurrency {
            Some(_) if spec.exec.is_none() => bail!("concurrency applies to exec rules only"),
            Some(0) => bail!("concurrency must be at least 1"),
            _ => {}
        }
        if spec.interval.is_some() && !matches!(spec.reply, Some(Value::Array(_))) {
            bail!("interval applies to a list of replies only");
        }
        if spec.exec.is_some()
            && is_streaming(self.method)
            && (has_condition || !conditions_allowed)
        {
            bail!("exec on a streaming method runs once per call, so it must be the endpoint's only rule");
        }
        let action = if let Some(Value::Array(replies)) = &spec.reply {
            if !self.method.is_server_streaming() {
                bail!(
                    "reply is a list, but {} returns one message",
                    self.method.name()
                );
            }
            let messages = replies
                .iter()
                .enumerate()
                .map(|(i, reply)| {
                    codec::from_json_value(&self.method.output(), reply)
                        .and_then(codec::encode_ahead)
                        .map(Arc::new)
                        .map_err(|error| anyhow!("reply {}: {error}", i + 1))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let interval = spec
                .interval
                .as_deref()
                .map(|text| duration(text).context("interval"))
                .transpose()?;
            Action::Replies { messages, interval }
        } else if let Some(reply) = &spec.reply {
            let message = codec::from_json_value(&self.method.output(), reply)
                .and_then(codec::encode_ahead)
                .map_err(|error| anyhow!("reply: {error}"))?;
            Action::Reply(Arc::new(message))
        } else if let Some(error) = &spec.error {
            Action::Error(
                error
                    .to_status(self.method.parent_pool())
                    .map_err(|error| anyhow!("error: {error}"))?,
            )
        } else if let Some(steps) = &spec.sequence {
            if steps.is_empty() {
                bail!("sequence is empty");
            }
            let steps = steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    self.rule(step, false)
                        .with_context(|| format!("sequence step {}", i + 1))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Action::sequence(steps)
        } else if let Some(command) = &spec.exec {
            let timeout = spec
                .timeout
                .as_deref()
                .map(|text| duration(text).context("timeout"))
                .transpose()?
                .unwrap_or(DEFAULT_EXEC_TIMEOUT);
            Action::Exec(ExecHandler::new(
                self.command(command)?,
                timeout,
                self.method,
                self.limits.clone(),
                spec.concurrency,
            ))
        } else if spec.proxy.is_some() {
            bail!("proxy rules are not available in this version of rmicro");
        } else if delay.is_some() || has_condition {
            Action::Reply(Arc::new(
                codec::encode_ahead(DynamicMessage::new(self.method.output()))
                    .expect("an empty message has a JSON form"),
            ))
        } else {
            bail!("a rule needs reply, error, sequence, exec or delay");
        };
        Ok(Rule {
            condition,
            delay,
            action,
        })
    }

    /// The command of an exec rule; a relative path with a `/` is relative to the
    /// handlers file, so a file and its scripts can move together.
    fn command(&self, command: &[String]) -> anyhow::Result<Vec<String>> {
        let Some(program) = command.first() else {
            bail!("exec needs a command: [\"program\", \"arg\", ...]")
        };
        let mut command = command.to_vec();
        if program.contains('/') {
            let path = PathBuf::from(program);
            let path = if path.is_relative() {
                self.base_dir.join(path)
            } else {
                path
            };
            if !path.is_file() {
                bail!("exec: {} does not exist", path.display());
            }
            command[0] = path.to_string_lossy().into_owned();
        }
        Ok(command)
    }
}

fn duration(text: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(text)
        .map_err(|error| anyhow!("{text:?} is not a duration like 50ms or 2s: {error}"))
}

/// A partial-request matcher: each given field must equal the request's; nested messages
/// given as objects match partially too.
fn matcher(message: &MessageDescriptor, value: &Value) -> anyhow::Result<Matcher> {
    let Value::Object(fields) = value else {
        bail!("must be an object of request fields")
    };
    let mut built = Matcher::default();
    for (name, expected) in fields {
        let field = message
            .get_field_by_name(name)
            .or_else(|| message.get_field_by_json_name(name))
            .ok_or_else(|| anyhow!("{} has no field `{name}`", message.full_name()))?;
        match (field.kind(), expected) {
            (Kind::Message(nested), Value::Object(_))
                if !field.is_map() && !nested.full_name().starts_with("google.protobuf.") =>
            {
                built.nested.push((
                    field.clone(),
                    matcher(&nested, expected).with_context(|| format!("field `{name}`"))?,
                ));
            }
            _ => {
                let mut single = Map::new();
                single.insert(name.clone(), expected.clone());
                let parsed = codec::from_json_value(message, &Value::Object(single))
                    .map_err(|error| anyhow!("{error}"))?;
                built
                    .values
                    .push((field.clone(), parsed.get_field(&field).into_owned()));
            }
        }
    }
    Ok(built)
}
