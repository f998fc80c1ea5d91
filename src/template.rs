//! Templates in JSON values and strings: `{{request.PATH}}` (a field of the request, as
//! JSON), `{{metadata.NAME}}` (a request header), `{{endpoint}}`, `{{seq}}` (a call
//! count the user of the template keeps), `{{now}}` (RFC 3339, UTC) and `{{uuid}}` (a
//! random v4 UUID). A string that is exactly one `{{…}}` becomes the value itself, of its
//! own type (a number stays a number, an object stays an object); anywhere else the value
//! is written into the string as text.
//!
//! A template is parsed once ([`Template::parse`], [`TextTemplate::parse`]) and rendered
//! per use against a [`Context`]. This module knows nothing of schemas: what a request
//! path may name is for the caller to check ([`Template::request_paths_mut`]), so the
//! handlers file and `rmicro bench` share it.

use crate::message::Metadata;
use serde_json::{Map, Value};
use std::cell::OnceCell;

/// What one `{{…}}` stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A request field by its path (`job.name`, `items.0.id`).
    Request(Vec<String>),
    /// A request header, its name in any case.
    Metadata(String),
    Endpoint,
    Seq,
    Now,
    Uuid,
}

impl Source {
    fn parse(expression: &str) -> Result<Source, String> {
        let expression = expression.trim();
        let source = match expression {
            "endpoint" => Source::Endpoint,
            "seq" => Source::Seq,
            "now" => Source::Now,
            "uuid" => Source::Uuid,
            "request" => Source::Request(Vec::new()),
            _ => match expression.split_once('.') {
                Some(("request", path)) if !path.split('.').any(str::is_empty) => {
                    Source::Request(path.split('.').map(str::to_owned).collect())
                }
                Some(("metadata", name)) if !name.is_empty() => {
                    Source::Metadata(name.to_owned())
                }
                _ => {
                    return Err(format!(
                        "unknown template {{{{{expression}}}}} (use request.FIELD, metadata.NAME, endpoint, seq, now or uuid)"
                    ))
                }
            },
        };
        Ok(source)
    }

    fn render(&self, context: &Context<'_>) -> Value {
        match self {
            Source::Request(path) => {
                let mut value = context.request();
                for step in path {
                    value = match value {
                        Value::Object(fields) => fields.get(step),
                        Value::Array(items) => {
                            step.parse::<usize>().ok().and_then(|i| items.get(i))
                        }
                        _ => None,
                    }
                    .unwrap_or(&Value::Null);
                }
                value.clone()
            }
            Source::Metadata(name) => context
                .metadata
                .and_then(|metadata| metadata.get(name))
                .map_or(Value::Null, Value::from),
            Source::Endpoint => context.endpoint.into(),
            Source::Seq => context.seq.into(),
            Source::Now => humantime::format_rfc3339_millis(std::time::SystemTime::now())
                .to_string()
                .into(),
            Source::Uuid => uuid::Uuid::new_v4().to_string().into(),
        }
    }
}

/// A piece of a string template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Source),
}

/// A string with templates in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextTemplate {
    parts: Vec<Part>,
}

impl TextTemplate {
    /// Parses `text`; a `{{` without its `}}`, or an unknown name, is refused.
    pub fn parse(text: &str) -> Result<TextTemplate, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("{text:?}: a {{{{ without its }}}}"))?;
            parts.push(Part::Value(Source::parse(&after[..end])?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(TextTemplate { parts })
    }

    /// Whether there is anything to render (no `{{…}}`: the text as it was).
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|part| matches!(part, Part::Text(_)))
    }

    /// The one source of a string that is exactly one `{{…}}`.
    fn whole(&self) -> Option<&Source> {
        match self.parts.as_slice() {
            [Part::Value(source)] => Some(source),
            _ => None,
        }
    }

    pub fn render(&self, context: &Context<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value(source) => match source.render(context) {
                    Value::Null => {}
                    Value::String(text) => out.push_str(&text),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        out
    }

    fn sources_mut(&mut self) -> impl Iterator<Item = &mut Source> {
        self.parts.iter_mut().filter_map(|part| match part {
            Part::Value(source) => Some(source),
            Part::Text(_) => None,
        })
    }
}

/// A JSON value whose strings may hold templates.
#[derive(Clone, Debug, PartialEq)]
pub enum Template {
    /// No template anywhere inside.
    Literal(Value),
    Text(TextTemplate),
    Array(Vec<Template>),
    Object(Vec<(String, Template)>),
}

impl Template {
    pub fn parse(value: &Value) -> Result<Template, String> {
        let template = match value {
            Value::String(text) => {
                let text = TextTemplate::parse(text)?;
                if text.is_literal() {
                    Template::Literal(value.clone())
                } else {
                    Template::Text(text)
                }
            }
            Value::Array(items) => Template::Array(
                items
                    .iter()
                    .map(Template::parse)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(fields) => Template::Object(
                fields
                    .iter()
                    .map(|(name, value)| {
                        Template::parse(value)
                            .map(|template| (name.clone(), template))
                            .map_err(|error| format!("{name}: {error}"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => Template::Literal(other.clone()),
        };
        Ok(match template {
            Template::Array(items) if items.iter().all(Template::is_literal) => {
                Template::Literal(value.clone())
            }
            Template::Object(fields) if fields.iter().all(|(_, field)| field.is_literal()) => {
                Template::Literal(value.clone())
            }
            template => template,
        })
    }

    /// Whether the value renders to itself.
    pub fn is_literal(&self) -> bool {
        matches!(self, Template::Literal(_))
    }

    pub fn render(&self, context: &Context<'_>) -> Value {
        match self {
            Template::Literal(value) => value.clone(),
            Template::Text(text) => match text.whole() {
                Some(source) => source.render(context),
                None => text.render(context).into(),
            },
            Template::Array(items) => items.iter().map(|item| item.render(context)).collect(),
            Template::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(name, field)| (name.clone(), field.render(context)))
                    // A field from a request path that is not there is left out, so the
                    // reply field takes its default.
                    .filter(|(_, value)| !value.is_null())
                    .collect::<Map<_, _>>(),
            ),
        }
    }

    /// Every `{{request.…}}` path, for the caller to check (and to respell) against what
    /// its requests hold.
    pub fn request_paths_mut(&mut self) -> Vec<&mut Vec<String>> {
        let mut paths = Vec::new();
        self.collect_paths(&mut paths);
        paths
    }

    fn collect_paths<'a>(&'a mut self, paths: &mut Vec<&'a mut Vec<String>>) {
        match self {
            Template::Literal(_) => {}
            Template::Text(text) => paths.extend(text_paths(text)),
            Template::Array(items) => items.iter_mut().for_each(|item| item.collect_paths(paths)),
            Template::Object(fields) => fields
                .iter_mut()
                .for_each(|(_, field)| field.collect_paths(paths)),
        }
    }
}

/// Every `{{request.…}}` path of a string template.
pub fn text_paths(text: &mut TextTemplate) -> impl Iterator<Item = &mut Vec<String>> {
    text.sources_mut().filter_map(|source| match source {
        Source::Request(path) => Some(path),
        _ => None,
    })
}

/// What templates are rendered against. The request's JSON is made on first use only.
pub struct Context<'a> {
    pub endpoint: &'a str,
    pub seq: u64,
    pub metadata: Option<&'a Metadata>,
    request: OnceCell<Value>,
    make_request: Box<dyn Fn() -> Value + Send + 'a>,
}

impl<'a> Context<'a> {
    /// A context whose `{{request.…}}` values come from `request`, called at most once.
    pub fn new(
        endpoint: &'a str,
        seq: u64,
        metadata: Option<&'a Metadata>,
        request: impl Fn() -> Value + Send + 'a,
    ) -> Context<'a> {
        Context {
            endpoint,
            seq,
            metadata,
            request: OnceCell::new(),
            make_request: Box::new(request),
        }
    }

    fn request(&self) -> &Value {
        self.request.get_or_init(|| (self.make_request)())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context<'a>(metadata: &'a Metadata) -> Context<'a> {
        Context::new(
            "Jobs.Create",
            3,
            Some(metadata),
            || json!({"job": {"name": "build", "count": 7, "tags": ["a", "b"]}}),
        )
    }

    #[test]
    fn a_whole_template_keeps_its_type_and_a_part_becomes_text() {
        let metadata: Metadata = [("x-user".to_owned(), "ann".to_owned())]
            .into_iter()
            .collect();
        let template = Template::parse(&json!({
            "count": "{{request.job.count}}",
            "job": "{{ request.job }}",
            "text": "{{endpoint}} #{{seq}} for {{metadata.X-User}}: {{request.job.tags.1}}",
            "missing": "{{request.job.owner}}",
            "plain": [1, "two"],
        }))
        .unwrap();
        assert_eq!(
            template.render(&context(&metadata)),
            json!({
                "count": 7,
                "job": {"name": "build", "count": 7, "tags": ["a", "b"]},
                "text": "Jobs.Create #3 for ann: b",
                "plain": [1, "two"],
            })
        );
    }

    #[test]
    fn now_and_uuid_are_fresh_and_well_formed() {
        let metadata = Metadata::new();
        let template = TextTemplate::parse("{{now}} {{uuid}}").unwrap();
        let text = template.render(&context(&metadata));
        let (now, uuid) = text.split_once(' ').unwrap();
        assert!(humantime::parse_rfc3339(now).is_ok(), "{now}");
        assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);
        assert_ne!(template.render(&context(&metadata)), text);
    }

    #[test]
    fn bad_templates_are_refused_naming_them() {
        assert!(TextTemplate::parse("{{seq")
            .unwrap_err()
            .contains("without its"));
        assert!(TextTemplate::parse("{{requests.x}}")
            .unwrap_err()
            .contains("unknown template {{requests.x}}"));
        assert!(Template::parse(&json!({"a": {"b": "{{nope}}"}}))
            .unwrap_err()
            .starts_with("a: b: unknown template"));
        assert!(Template::parse(&json!("no templates"))
            .unwrap()
            .is_literal());
    }

    #[test]
    fn request_paths_can_be_checked_and_respelled() {
        let mut template = Template::parse(&json!(["{{request.jobName}}", "{{seq}}"])).unwrap();
        for path in template.request_paths_mut() {
            assert_eq!(path, &vec!["jobName".to_owned()]);
            path[0] = "job_name".into();
        }
        let metadata = Metadata::new();
        let context = Context::new("E", 1, Some(&metadata), || json!({"job_name": "x"}));
        assert_eq!(template.render(&context), json!(["x", 1]));
    }
}
