//! `StubHandler`: the rules of one endpoint from the handlers file, tried in order. The
//! first rule whose conditions hold (partial request match, metadata) answers, after its
//! delay, with a pre-encoded reply (or, for a streaming method, a list of them sent one
//! `interval` apart), an error, the next step of a sequence, or an exec run. Streaming
//! calls are answered turn by turn (`in_turns`); an exec rule alone on a streaming
//! method gets the whole call.

use super::exec::ExecHandler;
use super::{in_turns, send_reply, Handler, HandlerFuture, StreamFuture};
use crate::message::{EncodedMessage, Reply, Request, StreamCall};
use crate::status::{Code, Status};
use prost_reflect::{DynamicMessage, FieldDescriptor, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Sender;

#[derive(Default)]
pub struct Matcher {
    pub values: Vec<(FieldDescriptor, Value)>,
    pub nested: Vec<(FieldDescriptor, Matcher)>,
}

impl Matcher {
    fn matches(&self, message: &DynamicMessage) -> bool {
        self.values
            .iter()
            .all(|(field, expected)| message.get_field(field).as_ref() == expected)
            && self.nested.iter().all(|(field, nested)| {
                match message.get_field(field).as_message() {
                    Some(inner) => nested.matches(inner),
                    None => false,
                }
            })
    }
}

#[derive(Default)]
pub struct Condition {
    pub request: Option<Matcher>,
    /// Metadata that must be present with exactly this value (names case-insensitive).
    pub metadata: Vec<(String, String)>,
}

impl Condition {
    fn holds(&self, request: &Request) -> bool {
        self.request
            .as_ref()
            .is_none_or(|matcher| matcher.matches(&request.body))
            && self
                .metadata
                .iter()
                .all(|(name, value)| request.metadata.get(name) == Some(value.as_str()))
    }
}

pub enum Action {
    Reply(Arc<EncodedMessage>),
    /// Replies of a streaming method, in order, `interval` apart.
    Replies {
        messages: Vec<Arc<EncodedMessage>>,
        interval: Option<Duration>,
    },
    Error(Status),
    Sequence {
        steps: Vec<Rule>,
        calls: AtomicUsize,
    },
    Exec(ExecHandler),
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
}

impl Rule {
    async fn apply(&self, request: Request) -> Result<Reply, Status> {
        self.wait().await;
        match &self.action {
            Action::Reply(reply) => Ok(Reply::Encoded(reply.clone())),
            // Only streaming methods take lists, and they are answered by `answer`.
            Action::Replies { messages, .. } => Ok(Reply::Encoded(messages[0].clone())),
            Action::Error(status) => Err(status.clone()),
            Action::Sequence { .. } => Box::pin(self.step().apply(request)).await,
            Action::Exec(exec) => exec.run(request).await,
        }
    }

    /// One turn of a streaming call: every reply the rule gives, sent in order.
    async fn answer(&self, request: Request, replies: Sender<Reply>) -> Result<(), Status> {
        match &self.action {
            Action::Replies { messages, interval } => {
                self.wait().await;
                for (i, message) in messages.iter().enumerate() {
                    if let (Some(interval), true) = (interval, i > 0) {
                        tokio::time::sleep(*interval).await;
                    }
                    send_reply(&replies, Reply::Encoded(message.clone())).await?;
                }
                Ok(())
            }
            Action::Sequence { .. } => {
                self.wait().await;
                Box::pin(self.step().answer(request, replies)).await
            }
            _ => send_reply(&replies, self.apply(request).await?).await,
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
    fn rule_for(&self, request: &Request) -> Result<&Rule, Status> {
        self.rules
            .iter()
            .find(|rule| rule.condition.holds(request))
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
        Box::pin(async move { self.rule_for(&request)?.apply(request).await })
    }

    fn stream(&self, call: StreamCall) -> StreamFuture<'_> {
        if let [Rule {
            action: Action::Exec(exec),
            ..
        }] = self.rules.as_slice()
        {
            return Box::pin(exec.stream(call));
        }
        Box::pin(in_turns(call, move |request, replies| async move {
            self.rule_for(&request)?.answer(request, replies).await
        }))
    }

    fn kind(&self) -> &'static str {
        match self.rules.as_slice() {
            [Rule {
                action: Action::Exec(_),
                ..
            }] => "exec",
            _ => "stub",
        }
    }
}
