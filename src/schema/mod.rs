//! The descriptor pool rmicro works from, and endpoint names over it.
//!
//! A [`Schema`] is built once, from descriptor sets, `.proto` files (compiled in-process by
//! protox, see `load`) or bytes fetched from a server, and never re-parsed per request.
//! Endpoint names are resolved here (`resolve`). Depends on nothing else in the crate.

mod load;
mod resolve;

pub use load::SchemaSources;
pub use resolve::ResolveError;

use prost_reflect::{DescriptorPool, MethodDescriptor, ServiceDescriptor};

/// A set of protobuf definitions with the services rmicro can call or serve.
#[derive(Clone, Debug)]
pub struct Schema {
    pool: DescriptorPool,
}

impl Schema {
    pub fn from_pool(pool: DescriptorPool) -> Schema {
        Schema { pool }
    }

    /// Reads an encoded `FileDescriptorSet` (as `Debug.Endpoints` returns it).
    pub fn decode(bytes: &[u8]) -> anyhow::Result<Schema> {
        let mut pool = DescriptorPool::new();
        load::add_descriptor_set_bytes(&mut pool, bytes)?;
        Ok(Schema { pool })
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    pub fn is_empty(&self) -> bool {
        self.pool.services().len() == 0
    }

    /// Services in a stable order (by full name).
    pub fn services(&self) -> Vec<ServiceDescriptor> {
        let mut services: Vec<_> = self.pool.services().collect();
        services.sort_by(|a, b| a.full_name().cmp(b.full_name()));
        services
    }

    /// Every method of every service, in a stable order.
    pub fn methods(&self) -> Vec<MethodDescriptor> {
        self.services()
            .iter()
            .flat_map(|service| service.methods())
            .collect()
    }

    /// The package of the first service, which `serve` names itself after by default.
    pub fn first_package(&self) -> Option<String> {
        self.services()
            .first()
            .map(|service| service.parent_file().package_name().to_owned())
    }
}

/// go-micro's name for a method: `Service.Method` (spec §4.2).
pub fn endpoint_name(method: &MethodDescriptor) -> String {
    format!("{}.{}", method.parent_service().name(), method.name())
}

/// gRPC's name for a method: `/pkg.Service/Method`.
pub fn grpc_path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

/// Whether the method streams in either direction.
pub fn is_streaming(method: &MethodDescriptor) -> bool {
    method.is_client_streaming() || method.is_server_streaming()
}

/// A human name for a method's kind.
pub fn method_kind(method: &MethodDescriptor) -> &'static str {
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => "unary",
        (false, true) => "server-streaming",
        (true, false) => "client-streaming",
        (true, true) => "bidi-streaming",
    }
}
