//! The handlers file (`--handlers`, DESIGN.md "Handlers file"): JSON keyed by endpoint, a
//! rule or a list of rules per endpoint. Everything is checked against the schema at
//! start-up — endpoint names, match fields, replies, error codes, durations, commands —
//! and a bad file is refused naming the file, the endpoint and the field.

use super::exec::{ExecHandler, ExecLimits};
use super::matching::{matcher, metadata_matcher};
use super::proxy::Upstreams;
use super::stub::{Action, Body, Condition, ReplyOptions, Rule, StubHandler};
use super::worker::WorkerPool;
use super::Handler;
use crate::codec::{self, details};
use crate::schema::{is_streaming, Schema};
use crate::status::{Code, Status};
use crate::template::{self, Template, TextTemplate};
use anyhow::{anyhow, bail, Context};
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MethodDescriptor};
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
    metadata: Option<Value>,
    /// Applies to the rule's first N matching calls only.
    times: Option<u64>,
    reply: Option<Value>,
    headers: Option<Map<String, Value>>,
    trailers: Option<Map<String, Value>>,
    /// `"gzip"` or `"identity"`: the reply's compression, whatever the request's.
    compress: Option<String>,
    interval: Option<String>,
    error: Option<ErrorSpec>,
    delay: Option<String>,
    sequence: Option<Vec<Value>>,
    exec: Option<Vec<String>>,
    timeout: Option<String>,
    concurrency: Option<usize>,
    /// An exec command started once and kept, answering NDJSON lines.
    worker: Option<bool>,
    workers: Option<usize>,
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
    /// `limits`, its proxy rules call through `upstreams`.
    pub fn load(
        path: &Path,
        schema: &Schema,
        limits: &ExecLimits,
        upstreams: &Upstreams<'_>,
    ) -> anyhow::Result<HandlerRules> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read handlers file {}", path.display()))?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &base_dir, schema, limits, upstreams)
            .with_context(|| format!("handlers file {}", path.display()))
    }

    fn parse(
        text: &str,
        base_dir: &Path,
        schema: &Schema,
        limits: &ExecLimits,
        upstreams: &Upstreams<'_>,
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
                upstreams,
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
                    .any(|rule: &Rule| matches!(rule.action, Action::Exec(_) | Action::Proxy(_)))
            {
                bail!("endpoint {name}: exec and proxy on a streaming method take the whole call, so either must be the endpoint's only rule");
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
    upstreams: &'a Upstreams<'a>,
}

impl Compile<'_> {
    fn rule(&self, value: &Value, conditions_allowed: bool) -> anyhow::Result<Rule> {
        let spec: RuleSpec =
            serde_json::from_value(value.clone()).map_err(|error| anyhow!("{error}"))?;
        let has_condition = spec.request.is_some() || spec.metadata.is_some();
        if (has_condition || spec.times.is_some()) && !conditions_allowed {
            bail!("a rule inside a sequence cannot have match, metadata or times");
        }
        if spec.times == Some(0) {
            bail!("times must be at least 1");
        }
        let condition = Condition {
            request: spec
                .request
                .as_ref()
                .map(|value| matcher(&self.method.input(), value).context("match"))
                .transpose()?,
            metadata: spec
                .metadata
                .as_ref()
                .map(|value| metadata_matcher(value).context("metadata"))
                .transpose()?
                .unwrap_or_default(),
        };
        let reply_options = ReplyOptions {
            headers: self.headers(spec.headers.as_ref()).context("headers")?,
            trailers: self.headers(spec.trailers.as_ref()).context("trailers")?,
            gzip: match spec.compress.as_deref() {
                None => None,
                Some("gzip") => Some(true),
                Some("identity") => Some(false),
                Some(other) => bail!("compress: {other:?} is not \"gzip\" or \"identity\""),
            },
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
        let worker = spec.worker.unwrap_or(false);
        if spec.worker.is_some() && spec.exec.is_none() {
            bail!("worker applies to exec rules only: {{\"exec\": [...], \"worker\": true}}");
        }
        match spec.workers {
            Some(_) if !worker => {
                bail!("workers applies to worker rules only: add \"worker\": true")
            }
            Some(0) => bail!("workers must be at least 1"),
            _ => {}
        }
        match spec.concurrency {
            Some(_) if spec.exec.is_none() => bail!("concurrency applies to exec rules only"),
            Some(_) if worker => bail!("concurrency applies to per-request exec rules; a worker rule runs \"workers\" processes"),
            Some(0) => bail!("concurrency must be at least 1"),
            _ => {}
        }
        if spec.interval.is_some() && !matches!(spec.reply, Some(Value::Array(_))) {
            bail!("interval applies to a list of replies only");
        }
        if (spec.exec.is_some() || spec.proxy.is_some())
            && is_streaming(self.method)
            && (has_condition || !conditions_allowed)
        {
            bail!("exec and proxy on a streaming method take the whole call, so either must be the endpoint's only rule");
        }
        if spec.proxy.is_some() && (spec.headers.is_some() || spec.trailers.is_some()) {
            bail!(
                "a proxy rule passes on the upstream's headers and trailers; it cannot set its own"
            );
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
                .map(|(i, reply)| self.body(reply).with_context(|| format!("reply {}", i + 1)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let interval = spec
                .interval
                .as_deref()
                .map(|text| duration(text).context("interval"))
                .transpose()?;
            Action::Replies { messages, interval }
        } else if let Some(reply) = &spec.reply {
            Action::Reply(self.body(reply).context("reply")?)
        } else if let Some(error) = &spec.error {
            let status = error
                .to_status(self.method.parent_pool())
                .map_err(|error| anyhow!("error: {error}"))?;
            let detail = Some(self.text(&error.detail).context("error: detail")?)
                .filter(|detail| !detail.is_literal());
            Action::Error { status, detail }
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
            if worker {
                Action::Worker(WorkerPool::start(
                    self.command(command)?,
                    timeout,
                    self.method,
                    self.limits.clone(),
                    spec.workers.unwrap_or(1),
                ))
            } else {
                Action::Exec(ExecHandler::new(
                    self.command(command)?,
                    timeout,
                    self.method,
                    self.limits.clone(),
                    spec.concurrency,
                ))
            }
        } else if let Some(address) = &spec.proxy {
            let upstream = self.upstreams.get(address).context("proxy")?;
            Action::Proxy(upstream.handler(self.method))
        } else if delay.is_some()
            || has_condition
            || spec.times.is_some()
            || spec.headers.is_some()
            || spec.trailers.is_some()
        {
            Action::Reply(Body::Encoded(Arc::new(
                codec::encode_ahead(DynamicMessage::new(self.method.output()))
                    .expect("an empty message has a JSON form"),
            )))
        } else {
            bail!("a rule needs reply, error, sequence, exec or delay");
        };
        Ok(Rule {
            reply: reply_options,
            times: spec.times,
            ..Rule::new(condition, delay, action)
        })
    }

    /// A reply message: encoded now when it holds no template; otherwise its templates'
    /// request paths are checked, and it is rendered once against an empty request so
    /// that a template that cannot make the reply type is refused now.
    fn body(&self, value: &Value) -> anyhow::Result<Body> {
        let output = self.method.output();
        let mut template = Template::parse(value).map_err(|error| anyhow!("{error}"))?;
        if template.is_literal() {
            let message = codec::from_json_value(&output, value)
                .and_then(codec::encode_ahead)
                .map_err(|error| anyhow!("{error}"))?;
            return Ok(Body::Encoded(Arc::new(message)));
        }
        for path in template.request_paths_mut() {
            self.request_path(path)?;
        }
        let empty = codec::to_template_json_value(&DynamicMessage::new(self.method.input()));
        let metadata = crate::message::Metadata::new();
        let trial = template::Context::new("", 1, Some(&metadata), || empty.clone());
        codec::from_json_value(&output, &template.render(&trial)).map_err(|error| {
            anyhow!("{error} (rendered for an empty request; a string that is exactly one {{{{…}}}} takes its value's type)")
        })?;
        Ok(Body::Template { template, output })
    }

    /// A string that may hold templates (a header, an error's detail), its request
    /// paths checked.
    fn text(&self, text: &str) -> anyhow::Result<TextTemplate> {
        let mut parsed = TextTemplate::parse(text).map_err(|error| anyhow!("{error}"))?;
        for path in template::text_paths(&mut parsed) {
            self.request_path(path)?;
        }
        Ok(parsed)
    }

    /// Checks a `{{request.…}}` path against the request type, respelling JSON names
    /// as the proto field names the request's JSON is rendered with.
    fn request_path(&self, path: &mut [String]) -> anyhow::Result<()> {
        let shown = format!("{{{{request.{}}}}}", path.join("."));
        let shown = || shown.clone();
        let mut kind = Some(Kind::Message(self.method.input()));
        let mut i = 0;
        while i < path.len() {
            let Some(Kind::Message(message)) = kind.clone() else {
                bail!(
                    "{}: `{}` names a field of something that has none",
                    shown(),
                    path[i]
                );
            };
            if message.full_name().starts_with("google.protobuf.") {
                // Well-known types have their own JSON forms (Struct's keys are free).
                return Ok(());
            }
            let field = message
                .get_field_by_name(&path[i])
                .or_else(|| message.get_field_by_json_name(&path[i]))
                .ok_or_else(|| {
                    anyhow!(
                        "{}: {} has no field `{}`",
                        shown(),
                        message.full_name(),
                        path[i]
                    )
                })?;
            path[i] = field.name().to_owned();
            i += 1;
            if field.is_list() || field.is_map() {
                if i == path.len() {
                    return Ok(());
                }
                if field.is_list() && path[i].parse::<usize>().is_err() {
                    bail!(
                        "{}: `{}` is a list, so `{}` must be an index",
                        shown(),
                        field.name(),
                        path[i]
                    );
                }
                i += 1;
                kind = if field.is_map() {
                    match field.kind() {
                        Kind::Message(entry) => Some(entry.map_entry_value_field().kind()),
                        _ => None,
                    }
                } else {
                    Some(field.kind())
                };
            } else {
                kind = Some(field.kind());
            }
        }
        Ok(())
    }

    /// A rule's `headers` or `trailers`: lowercase names that are no protocol's own,
    /// string values (templates allowed); a literal `-bin` value must be base64.
    fn headers(
        &self,
        given: Option<&Map<String, Value>>,
    ) -> anyhow::Result<Vec<(String, TextTemplate)>> {
        let Some(given) = given else {
            return Ok(Vec::new());
        };
        given
            .iter()
            .map(|(name, value)| {
                let lower = name.to_ascii_lowercase();
                if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
                    bail!("{name:?} is not a valid header name");
                }
                if crate::protocol::is_transport_header(&lower)
                    || RESERVED_PREFIXES
                        .iter()
                        .any(|prefix| lower.starts_with(prefix))
                {
                    bail!("{name:?} is the protocol's own header; a rule cannot set it");
                }
                let Value::String(text) = value else {
                    bail!("{name}: the value must be a string");
                };
                let template = self.text(text).with_context(|| name.clone())?;
                if template.is_literal() {
                    if http::HeaderValue::from_str(text).is_err() {
                        bail!("{name}: {text:?} is not a valid header value");
                    }
                    if lower.ends_with("-bin") && details::base64_decode(text).is_err() {
                        bail!("{name}: a -bin header carries base64, and {text:?} is not base64");
                    }
                }
                Ok((lower, template))
            })
            .collect()
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

/// Headers a rule cannot set besides HTTP's transport headers: each protocol's own.
const RESERVED_PREFIXES: [&str; 5] = ["grpc-", "connect-", "micro-", "x-micro-", ":"];

fn duration(text: &str) -> anyhow::Result<Duration> {
    humantime::parse_duration(text)
        .map_err(|error| anyhow!("{text:?} is not a duration like 50ms or 2s: {error}"))
}
