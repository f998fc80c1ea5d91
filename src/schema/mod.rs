//! The descriptor pool rmicro works from, and endpoint names over it.
//!
//! A [`Schema`] is built once, from descriptor sets, `.proto` files (compiled in-process by
//! protox, see `load`) or bytes fetched from a server, and never re-parsed per request.
//! Endpoint names are resolved here (`resolve`). Depends on nothing else in the crate.

mod load;
mod resolve;
pub mod source;

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

    /// Every file of the schema with its imports, dependencies first (as `protoc
    /// --include_imports --descriptor_set_out` writes them).
    pub fn file_descriptor_set(&self) -> prost_types::FileDescriptorSet {
        prost_types::FileDescriptorSet {
            file: self.pool.file_descriptor_protos().cloned().collect(),
        }
    }

    /// Writes the schema: as a FileDescriptorSet to `protoset`, and as `.proto` files
    /// under `proto_dir` (every file but the well-known types, which protoc has built
    /// in), each at its import path.
    pub fn export(
        &self,
        protoset: Option<&std::path::Path>,
        proto_dir: Option<&std::path::Path>,
    ) -> anyhow::Result<()> {
        use anyhow::Context as _;
        use prost::Message as _;
        if let Some(path) = protoset {
            std::fs::write(path, self.file_descriptor_set().encode_to_vec())
                .with_context(|| format!("cannot write --protoset-out {}", path.display()))?;
        }
        if let Some(dir) = proto_dir {
            for file in self.pool.files() {
                if file.name().starts_with("google/protobuf/") {
                    continue;
                }
                let path = dir.join(file.name());
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).with_context(|| {
                        format!("cannot create --proto-out-dir {}", parent.display())
                    })?;
                }
                std::fs::write(&path, source::render_file(&file))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        Ok(())
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
