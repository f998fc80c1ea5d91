//! `StubHandler`: the rules of one endpoint from the handlers file, tried in order. The
//! first rule whose conditions hold (request match, metadata; see `matching`) and whose
//! `times` are not used up answers, after its delay, with its headers and trailers and a
//! reply (pre-encoded, or rendered from its templates; for a streaming method, a list of
//! them sent one `interval` apart), an error, the next step of a sequence, an exec run or
//! a worker's answer. Streaming calls are answered turn by turn (`in_turns`); an exec or
//! worker rule alone on a streaming method gets the whole call.

use super::exec::ExecHandler;
use super::matching::{Matcher, MetadataMatcher};
use super::proxy::ProxyHandler;
use super::worker::WorkerPool;
use super::{in_turns, send_reply, Handler, HandlerFuture, StreamFuture};
use crate::codec;
use crate::message::{EncodedMessage, Reply, Request, StreamCall};
use crate::status::{Code, Status};
use crate::template::{Context, Template, TextTemplate};
use prost_reflect::MessageDescriptor;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Sender;

#[derive(Default)]
pub struct Condition {
    pub request: Option<Matcher>,
    /// Headers (names case-insensitive) and their tests.
    pub metadata: MetadataMatcher,
}

impl Condition {
    fn holds(&self, request: &Request) -> bool {
        self.request
            .as_ref()
            .is_none_or(|matcher| matcher.matches(&request.body))
            && self.metadata.matches(&request.metadata)
    }
}

/// A reply message: encoded at start-up, or rendered per call from its templates.
pub enum Body {
    Encoded(Arc<EncodedMessage>),
    Template {
        template: Template,
        output: MessageDescriptor,
    },
}

impl Body {
    fn render(&self, context: &Context<'_>) -> Result<Reply, Status> {
        match self {
            Body::Encoded(message) => Ok(Reply::Encoded(message.clone())),
            Body::Template { template, output } => {
                codec::from_json_value(output, &template.render(context))
                    .map(Reply::Message)
                    .map_err(|error| {
                        Status::internal(format!("the reply rendered from its template: {error}"))
                    })
            }
        }
    }
}

/// What a rule adds to its reply besides the message: headers, trailers (both on
/// errors too) and its compression.
#[derive(Default)]
pub struct ReplyOptions {
    pub headers: Vec<(String, TextTemplate)>,
    pub trailers: Vec<(String, TextTemplate)>,
    /// `"compress"`: `Some(true)` gzip, `Some(false)` identity.
    pub gzip: Option<bool>,
}

impl ReplyOptions {
    fn set(&self, request: &Request, context: &Context<'_>) {
        if self.headers.is_empty() && self.trailers.is_empty() && self.gzip.is_none() {
            return;
        }
        // Set, not added: each turn of a stream renders them again, and the last wins.
        request.context.reply.update(|extras| {
            for (name, value) in &self.headers {
                extras.headers.set(name.clone(), value.render(context));
            }
            for (name, value) in &self.trailers {
                extras.trailers.set(name.clone(), value.render(context));
            }
            if self.gzip.is_some() {
                extras.gzip = self.gzip;
            }
        });
    }
}

pub enum Action {
    Reply(Body),
    /// Replies of a streaming method, in order, `interval` apart.
    Replies {
        messages: Vec<Body>,
        interval: Option<Duration>,
    },
    Error {
        status: Status,
        /// The error's `detail` when it holds templates.
        detail: Option<TextTemplate>,
    },
    Sequence {
        steps: Vec<Rule>,
        calls: AtomicUsize,
    },
    Exec(ExecHandler),
    Worker(Arc<WorkerPool>),
    Proxy(ProxyHandler),
}

impl Action {
    pub fn sequence(steps: Vec<Rule>) -> Action {
        Action::Sequence {
            steps,
            calls: AtomicUsize::new(0),
        }
    }
}

pub struct Rule {
    pub condition: Condition,
    pub delay: Option<Duration>,
    pub action: Action,
    pub reply: ReplyOptions,
    /// `"times"`: the rule answers its first N matching calls only.
    pub times: Option<u64>,
    /// Matching calls so far (`{{seq}}` is this call's number, from 1).
    pub calls: AtomicU64,
}

/// The context templates of a call are rendered in.
fn context(request: &Request, seq: u64) -> Context<'_> {
    Context::new(&request.endpoint.name, seq, Some(&request.metadata), || {
        codec::to_template_json_value(&request.body)
    })
}

impl Rule {
    pub fn new(condition: Condition, delay: Option<Duration>, action: Action) -> Rule {
        Rule {
            condition,
            delay,
            action,
            reply: ReplyOptions::default(),
            times: None,
            calls: AtomicU64::new(0),
        }
    }

    /// Takes this call if the rule's conditions hold and its `times` are not used up:
    /// the call's number, from 1.
    fn take(&self, request: &Request) -> Option<u64> {
        if !self.condition.holds(request) {
            return None;
        }
        let counted = self
            .calls
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |calls| {
                match self.times {
                    Some(times) if calls >= times => None,
                    _ => Some(calls + 1),
                }
            });
        counted.ok().map(|calls| calls + 1)
    }

    async fn apply(&self, request: Request, seq: u64) -> Result<Reply, Status> {
        self.wait().await;
        let context = context(&request, seq);
        self.reply.set(&request, &context);
        match &self.action {
            Action::Reply(body) => body.render(&context),
            // Only streaming methods take lists, and they are answered by `answer`.
            Action::Replies { messages, .. } => messages[0].render(&context),
            Action::Error { status, detail } => Err(match detail {
                Some(detail) => Status {
                    message: detail.render(&context),
                    ..status.clone()
                },
                None => status.clone(),
            }),
            Action::Sequence { .. } => {
                drop(context);
                Box::pin(self.step().apply(request, seq)).await
            }
            Action::Exec(exec) => {
                drop(context);
                exec.run(request).await
            }
            Action::Worker(pool) => {
                drop(context);
                pool.call(request).await
            }
            Action::Proxy(proxy) => {
                drop(context);
                proxy.handle(request).await
            }
        }
    }

    /// One turn of a streaming call: every reply the rule gives, sent in order.
    async fn answer(
        &self,
        request: Request,
        seq: u64,
        replies: Sender<Reply>,
    ) -> Result<(), Status> {
        match &self.action {
            Action::Replies { messages, interval } => {
                self.wait().await;
                let context = context(&request, seq);
                self.reply.set(&request, &context);
                for (i, message) in messages.iter().enumerate() {
                    if let (Some(interval), true) = (interval, i > 0) {
                        tokio::time::sleep(*interval).await;
                    }
                    let reply = message.render(&context)?;
                    send_reply(&replies, reply).await?;
                }
                Ok(())
            }
            Action::Sequence { .. } => {
                self.wait().await;
                self.reply.set(&request, &context(&request, seq));
                Box::pin(self.step().answer(request, seq, replies)).await
            }
            _ => send_reply(&replies, self.apply(request, seq).await?).await,
        }
    }

    async fn wait(&self) {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
    }

    /// The step of a sequence this call gets: the first call the first step, and so
    /// on; the last step repeats.
    fn step(&self) -> &Rule {
        let Action::Sequence { steps, calls } = &self.action else {
            return self;
        };
        let call = calls.fetch_add(1, Ordering::Relaxed);
        &steps[call.min(steps.len() - 1)]
    }
}

pub struct StubHandler {
    rules: Vec<Rule>,
}

impl StubHandler {
    pub fn new(rules: Vec<Rule>) -> StubHandler {
        StubHandler { rules }
    }
}

impl StubHandler {
    fn rule_for(&self, request: &Request) -> Result<(&Rule, u64), Status> {
        self.rules
            .iter()
            .find_map(|rule| rule.take(request).map(|seq| (rule, seq)))
            .ok_or_else(|| {
                Status::new(
                    Code::NotFound,
                    format!("no rule for {} matched the request", request.endpoint.name),
                )
            })
    }
}

impl Handler for StubHandler {
    fn handle(&self, request: Request) -> HandlerFuture<'_> {
        Box::pin(async move {
            let (rule, seq) = self.rule_for(&request)?;
            rule.apply(request, seq).await
        })
    }

    fn stream(&self, call: StreamCall) -> StreamFuture<'_> {
        match self.rules.as_slice() {
            [Rule {
                action: Action::Exec(exec),
                ..
            }] => return Box::pin(exec.stream(call)),
            [Rule {
                action: Action::Proxy(proxy),
                ..
            }] => return proxy.stream(call),
            _ => {}
        }
        Box::pin(in_turns(call, move |request, replies| async move {
            let (rule, seq) = self.rule_for(&request)?;
            rule.answer(request, seq, replies).await
        }))
    }

    fn kind(&self) -> &'static str {
        match self.rules.as_slice() {
            [Rule {
                action: Action::Exec(_),
                ..
            }] => "exec",
            [Rule {
                action: Action::Worker(_),
                ..
            }] => "worker",
            [Rule {
                action: Action::Proxy(_),
                ..
            }] => "proxy",
            _ => "stub",
        }
    }
}
