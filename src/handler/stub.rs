//! `StubHandler`: the rules of one endpoint from the handlers file, tried in order. The
//! first rule whose conditions hold (partial request match, metadata) answers, after its
//! delay, with a pre-encoded reply, an error, the next step of a sequence, or an exec run.

use super::exec::ExecHandler;
use super::{Handler, HandlerFuture};
use crate::message::{EncodedMessage, Reply, Request};
use crate::status::{Code, Status};
use prost_reflect::{DynamicMessage, FieldDescriptor, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        match &self.action {
            Action::Reply(reply) => Ok(Reply::Encoded(reply.clone())),
            Action::Error(status) => Err(status.clone()),
            Action::Sequence { steps, calls } => {
                // The first call gets the first step, and so on; the last step repeats.
                let call = calls.fetch_add(1, Ordering::Relaxed);
                let step = &steps[call.min(steps.len() - 1)];
                Box::pin(step.apply(request)).await
            }
            Action::Exec(exec) => exec.run(request).await,
        }
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

impl Handler for StubHandler {
    fn handle(&self, request: Request) -> HandlerFuture<'_> {
        Box::pin(async move {
            match self
                .rules
                .iter()
                .find(|rule| rule.condition.holds(&request))
            {
                Some(rule) => rule.apply(request).await,
                None => Err(Status::new(
                    Code::NotFound,
                    format!("no rule for {} matched the request", request.endpoint.name),
                )),
            }
        })
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
