//! rmicro: call, serve and inspect go-micro and gRPC services.
//!
//! Layers, top to bottom (a module only uses those below it; see DESIGN.md): `cli`,
//! `output`, `server`, `bench`, `client`, `handler`, `protocol`, `codec`, `schema`, `status`,
//! `suggest`, `template` and `message`. `main.rs` only parses, runs and maps the outcome to an exit code.

pub mod bench;
pub mod cli;
pub mod client;
pub mod codec;
pub mod completions;
pub mod exit_code;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod handler;
pub mod message;
pub mod output;
pub mod protocol;
pub mod reaper;
pub mod registration;
pub mod registry;
pub mod runtime;
pub mod schema;
pub mod server;
pub mod status;
pub mod suggest;
pub mod template;
