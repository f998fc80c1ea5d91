//! The one integration-test binary: drives the real `rmicro` binary against servers it
//! starts on port 0, and speaks raw bytes to them where the wire format matters.

mod bench;
mod call;
mod captures;
mod connections;
mod decode_budget;
mod engine;
mod etcd;
mod exec_limits;
mod gomicro_serve;
mod grpc;
mod grpc_retry;
mod grpc_shutdown;
mod grpc_wire;
mod h2_bounds;
mod h2_frames;
mod h2_limits;
mod hardening;
mod http1_hardening;
mod inspect;
mod jsonrpc;
mod mdns;
mod nodes;
mod registry;
mod rules;
mod schema;
mod serve;
mod support;
mod tls;
mod web;
mod wire;
