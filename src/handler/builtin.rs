//! The built-in gRPC services — server reflection (v1 and v1alpha) and health — as
//! handlers behind the router like any endpoint, so every front end that routes by path
//! (gRPC, Connect's streams) serves them, in any codec, counted in `Debug.Stats`. The
//! answers themselves are `protocol::grpc::builtin`'s; this adapts them to messages.

use super::{send_reply, Handler, HandlerFuture, StreamFuture};
use crate::message::{Reply, Request, StreamCall};
use crate::protocol::grpc::builtin::{self, Builtin, Health};
use crate::protocol::stopping;
use crate::status::{Code, Status};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, ServiceDescriptor};
use std::sync::Arc;

pub struct BuiltinHandler {
    builtin: Builtin,
    /// What reflection describes and health knows: the served services.
    services: Arc<Vec<ServiceDescriptor>>,
    output: MessageDescriptor,
}

impl BuiltinHandler {
    pub fn new(
        builtin: Builtin,
        services: Arc<Vec<ServiceDescriptor>>,
        output: MessageDescriptor,
    ) -> BuiltinHandler {
        BuiltinHandler {
            builtin,
            services,
            output,
        }
    }

    /// An answer in bytes as the method's reply message.
    fn reply(&self, bytes: &[u8]) -> Result<Reply, Status> {
        DynamicMessage::decode(self.output.clone(), bytes)
            .map(Reply::Message)
            .map_err(|error| Status::internal(format!("built-in answer: {error}")))
    }

    fn health(&self, request: &DynamicMessage) -> Result<Health, Status> {
        builtin::health_of(&self.services, &request.encode_to_vec())
    }
}

impl Handler for BuiltinHandler {
    fn handle(&self, request: Request) -> HandlerFuture<'_> {
        Box::pin(async move {
            match (self.builtin, self.health(&request.body)?) {
                (Builtin::HealthCheck, Health::ServiceUnknown) => {
                    Err(Status::new(Code::NotFound, "unknown service"))
                }
                (Builtin::HealthCheck, health) => self.reply(&health.encode()),
                _ => Err(Status::new(Code::Unimplemented, "a streaming method")),
            }
        })
    }

    fn stream(&self, call: StreamCall) -> StreamFuture<'_> {
        Box::pin(async move {
            let StreamCall {
                mut requests,
                replies,
                stopping: mut stop,
                ..
            } = call;
            match self.builtin {
                Builtin::Reflection => {
                    while let Some(question) = requests.recv().await {
                        let answer = builtin::reflect(&self.services, &question.encode_to_vec())?;
                        send_reply(&replies, self.reply(&answer)?).await?;
                    }
                    Ok(())
                }
                Builtin::HealthWatch => {
                    let Some(question) = requests.recv().await else {
                        return Err(Status::internal("grpc: the request carried no message"));
                    };
                    send_reply(&replies, self.reply(&self.health(&question)?.encode())?).await?;
                    // Until the caller goes away or the server stops.
                    tokio::select! {
                        _ = replies.closed() => Ok(()),
                        _ = stopping(&mut stop) => {
                            send_reply(&replies, self.reply(&Health::NotServing.encode())?).await
                        }
                    }
                }
                Builtin::HealthCheck => Err(Status::new(Code::Unimplemented, "a unary method")),
            }
        })
    }

    fn kind(&self) -> &'static str {
        "builtin"
    }
}
