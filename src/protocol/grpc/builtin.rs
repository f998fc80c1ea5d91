//! The services every rmicro gRPC server offers beside the schema's, on by default:
//! server reflection (`grpc.reflection.v1` and `v1alpha` — the same messages under two
//! package names) and health (`grpc.health.v1.Health`, Check and Watch). Messages are
//! declared here with prost; reflection describes the served schema and these services
//! themselves (their `.proto` files in `proto/grpc/` are embedded).

use crate::status::{Code, Status};
use prost::Message;
use prost_reflect::{DescriptorPool, FileDescriptor, ServiceDescriptor};
use std::sync::OnceLock;

pub const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
pub const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";
pub const HEALTH: &str = "grpc.health.v1.Health";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `ServerReflectionInfo`: a bidirectional stream, one answer per question.
    Reflection,
    HealthCheck,
    /// A server stream of status changes until the call or the server ends.
    HealthWatch,
}

impl Builtin {
    fn find(service: &str, method: &str) -> Option<Builtin> {
        match (service, method) {
            (REFLECTION_V1 | REFLECTION_V1ALPHA, "ServerReflectionInfo") => {
                Some(Builtin::Reflection)
            }
            (HEALTH, "Check") => Some(Builtin::HealthCheck),
            (HEALTH, "Watch") => Some(Builtin::HealthWatch),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct ReflectionRequest {
    #[prost(string, tag = "1")]
    pub(super) host: String,
    #[prost(oneof = "Question", tags = "3, 4, 5, 6, 7")]
    pub(super) question: Option<Question>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(super) enum Question {
    #[prost(string, tag = "3")]
    FileByFilename(String),
    #[prost(string, tag = "4")]
    FileContainingSymbol(String),
    #[prost(message, tag = "5")]
    FileContainingExtension(ExtensionRequest),
    #[prost(string, tag = "6")]
    AllExtensionNumbersOfType(String),
    #[prost(string, tag = "7")]
    ListServices(String),
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct ExtensionRequest {
    #[prost(string, tag = "1")]
    pub(super) containing_type: String,
    #[prost(int32, tag = "2")]
    pub(super) extension_number: i32,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct ReflectionResponse {
    #[prost(string, tag = "1")]
    pub(super) valid_host: String,
    #[prost(message, optional, tag = "2")]
    pub(super) original_request: Option<ReflectionRequest>,
    #[prost(oneof = "Answer", tags = "4, 5, 6, 7")]
    pub(super) answer: Option<Answer>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub(super) enum Answer {
    #[prost(message, tag = "4")]
    FileDescriptors(FileDescriptors),
    #[prost(message, tag = "5")]
    ExtensionNumbers(ExtensionNumbers),
    #[prost(message, tag = "6")]
    Services(ServiceList),
    #[prost(message, tag = "7")]
    Error(ErrorAnswer),
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct FileDescriptors {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub(super) file_descriptor_proto: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct ExtensionNumbers {
    #[prost(string, tag = "1")]
    pub(super) base_type_name: String,
    #[prost(int32, repeated, tag = "2")]
    pub(super) extension_number: Vec<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct ServiceList {
    #[prost(message, repeated, tag = "1")]
    pub(super) service: Vec<ServiceName>,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct ServiceName {
    #[prost(string, tag = "1")]
    pub(super) name: String,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct ErrorAnswer {
    #[prost(int32, tag = "1")]
    pub(super) error_code: i32,
    #[prost(string, tag = "2")]
    pub(super) error_message: String,
}

/// Answers one reflection question about the served `services`.
pub fn reflect(services: &[ServiceDescriptor], question: &[u8]) -> Result<Vec<u8>, Status> {
    let request = ReflectionRequest::decode(question).map_err(|error| {
        Status::invalid_argument(format!("invalid reflection request: {error}"))
    })?;
    let not_found = |what: String| {
        Answer::Error(ErrorAnswer {
            error_code: Code::NotFound as i32,
            error_message: what,
        })
    };
    let pools = pools(services);
    let files = |found: Option<FileDescriptor>, what: String| match found {
        Some(file) => Answer::FileDescriptors(FileDescriptors {
            file_descriptor_proto: with_dependencies(&file)
                .iter()
                .map(|file| file.file_descriptor_proto().encode_to_vec())
                .collect(),
        }),
        None => not_found(what),
    };
    let answer = match &request.question {
        Some(Question::ListServices(_)) => Answer::Services(ServiceList {
            service: services
                .iter()
                .map(|service| service.full_name().to_owned())
                .chain([REFLECTION_V1, REFLECTION_V1ALPHA, HEALTH].map(str::to_owned))
                .map(|name| ServiceName { name })
                .collect(),
        }),
        Some(Question::FileByFilename(name)) => files(
            pools.iter().find_map(|pool| pool.get_file_by_name(name)),
            format!("file {name} not found"),
        ),
        Some(Question::FileContainingSymbol(symbol)) => files(
            pools.iter().find_map(|pool| file_of_symbol(pool, symbol)),
            format!("symbol {symbol} not found"),
        ),
        Some(Question::FileContainingExtension(asked)) => files(
            pools.iter().find_map(|pool| {
                pool.get_message_by_name(&asked.containing_type)?
                    .get_extension(asked.extension_number as u32)
                    .map(|extension| extension.parent_file())
            }),
            format!(
                "extension {} of {} not found",
                asked.extension_number, asked.containing_type
            ),
        ),
        Some(Question::AllExtensionNumbersOfType(name)) => {
            match pools.iter().find_map(|pool| pool.get_message_by_name(name)) {
                Some(message) => Answer::ExtensionNumbers(ExtensionNumbers {
                    base_type_name: name.clone(),
                    extension_number: message
                        .extensions()
                        .map(|extension| extension.number() as i32)
                        .collect(),
                }),
                None => not_found(format!("type {name} not found")),
            }
        }
        None => Answer::Error(ErrorAnswer {
            error_code: Code::InvalidArgument as i32,
            error_message: "the reflection request asks nothing".into(),
        }),
    };
    Ok(ReflectionResponse {
        valid_host: request.host.clone(),
        original_request: Some(request),
        answer: Some(answer),
    }
    .encode_to_vec())
}

/// The methods of the built-in services, each with what it is, for the router to serve.
pub fn methods() -> Vec<(Builtin, prost_reflect::MethodDescriptor)> {
    [REFLECTION_V1, REFLECTION_V1ALPHA, HEALTH]
        .into_iter()
        .filter_map(|name| builtin_pool().get_service_by_name(name))
        .flat_map(|service| service.methods().collect::<Vec<_>>())
        .filter_map(|method| {
            let builtin = Builtin::find(method.parent_service().full_name(), method.name())?;
            Some((builtin, method))
        })
        .collect()
}

/// The descriptors of the built-in services, parsed once per process.
fn builtin_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let reflection = include_str!("../../../proto/grpc/reflection.proto");
        // v1alpha is v1 under another package name.
        let reflection_v1alpha = reflection
            .replace("reflection.v1", "reflection.v1alpha")
            .replace("reflection_v1", "reflection_v1alpha");
        let mut pool = DescriptorPool::new();
        for (name, source) in [
            (
                "grpc/health/v1/health.proto",
                include_str!("../../../proto/grpc/health.proto"),
            ),
            ("grpc/reflection/v1/reflection.proto", reflection),
            (
                "grpc/reflection/v1alpha/reflection.proto",
                &reflection_v1alpha,
            ),
        ] {
            let file =
                protox::file::File::from_source(name, source).expect("built-in protos parse");
            pool.add_file_descriptor_proto(file.file_descriptor_proto().clone())
                .expect("built-in protos are valid");
        }
        pool
    })
}

/// The distinct descriptor pools the services come from, and the built-in one.
fn pools(services: &[ServiceDescriptor]) -> Vec<DescriptorPool> {
    let mut pools: Vec<DescriptorPool> = vec![builtin_pool().clone()];
    for service in services {
        let pool = service.parent_pool();
        if !pools.iter().any(|known| known == pool) {
            pools.push(pool.clone());
        }
    }
    pools
}

/// The file declaring a service, method, message, enum or extension.
fn file_of_symbol(pool: &DescriptorPool, symbol: &str) -> Option<FileDescriptor> {
    let symbol = symbol.trim_start_matches('.');
    if let Some(service) = pool.get_service_by_name(symbol) {
        return Some(service.parent_file());
    }
    if let Some(message) = pool.get_message_by_name(symbol) {
        return Some(message.parent_file());
    }
    if let Some(enumeration) = pool.get_enum_by_name(symbol) {
        return Some(enumeration.parent_file());
    }
    if let Some(extension) = pool.get_extension_by_name(symbol) {
        return Some(extension.parent_file());
    }
    let (parent, _) = symbol.rsplit_once('.')?;
    pool.get_service_by_name(parent)
        .map(|service| service.parent_file())
}

/// The file, then every file it depends on (transitively), each once.
fn with_dependencies(file: &FileDescriptor) -> Vec<FileDescriptor> {
    let mut files = vec![file.clone()];
    let mut next = 0;
    while next < files.len() {
        let dependencies: Vec<FileDescriptor> = files[next].dependencies().collect();
        for dependency in dependencies {
            if !files.iter().any(|known| known.name() == dependency.name()) {
                files.push(dependency);
            }
        }
        next += 1;
    }
    files
}

#[derive(Clone, PartialEq, Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    pub(super) service: String,
}

#[derive(Clone, PartialEq, Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    pub(super) status: i32,
}

/// `grpc.health.v1.HealthCheckResponse.ServingStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Unknown = 0,
    Serving = 1,
    NotServing = 2,
    ServiceUnknown = 3,
}

impl Health {
    pub fn encode(self) -> Vec<u8> {
        HealthCheckResponse {
            status: self as i32,
        }
        .encode_to_vec()
    }

    /// A `HealthCheckResponse` as a client reads it.
    pub fn decode(reply: &[u8]) -> Result<Health, String> {
        let response = HealthCheckResponse::decode(reply)
            .map_err(|error| format!("invalid health reply: {error}"))?;
        Ok(match response.status {
            1 => Health::Serving,
            2 => Health::NotServing,
            3 => Health::ServiceUnknown,
            _ => Health::Unknown,
        })
    }

    /// The name the schema gives the status.
    pub fn name(self) -> &'static str {
        match self {
            Health::Unknown => "UNKNOWN",
            Health::Serving => "SERVING",
            Health::NotServing => "NOT_SERVING",
            Health::ServiceUnknown => "SERVICE_UNKNOWN",
        }
    }
}

/// A `HealthCheckRequest` for `service` ("" is the whole server), as a client sends it.
pub fn health_request(service: &str) -> Vec<u8> {
    HealthCheckRequest {
        service: service.to_owned(),
    }
    .encode_to_vec()
}

/// The health of the service a health request names ("" is the whole server).
pub fn health_of(services: &[ServiceDescriptor], question: &[u8]) -> Result<Health, Status> {
    let request = HealthCheckRequest::decode(question)
        .map_err(|error| Status::invalid_argument(format!("invalid health request: {error}")))?;
    let name = request.service.as_str();
    let known = name.is_empty()
        || [REFLECTION_V1, REFLECTION_V1ALPHA, HEALTH].contains(&name)
        || services.iter().any(|service| service.full_name() == name);
    Ok(if known {
        Health::Serving
    } else {
        Health::ServiceUnknown
    })
}
