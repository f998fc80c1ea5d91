//! One error model for every protocol: a gRPC-numbered [`Code`], a message and, for
//! errors that came from or go to go-micro, the origin id and HTTP-like code.
//!
//! Holds the single mapping table between go-micro's error JSON (spec §3.1) and gRPC codes
//! (DESIGN.md "Status"). Depends on nothing else in the crate (details are prost's `Any`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// gRPC status codes, numbered as gRPC numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// Every code with its gRPC name and the go-micro (HTTP-like) code it is sent as.
const TABLE: [(Code, &str, u16); 17] = [
    (Code::Ok, "OK", 200),
    (Code::Cancelled, "CANCELLED", 499),
    (Code::Unknown, "UNKNOWN", 500),
    (Code::InvalidArgument, "INVALID_ARGUMENT", 400),
    (Code::DeadlineExceeded, "DEADLINE_EXCEEDED", 408),
    (Code::NotFound, "NOT_FOUND", 404),
    (Code::AlreadyExists, "ALREADY_EXISTS", 409),
    (Code::PermissionDenied, "PERMISSION_DENIED", 403),
    (Code::ResourceExhausted, "RESOURCE_EXHAUSTED", 429),
    (Code::FailedPrecondition, "FAILED_PRECONDITION", 412),
    (Code::Aborted, "ABORTED", 409),
    (Code::OutOfRange, "OUT_OF_RANGE", 400),
    (Code::Unimplemented, "UNIMPLEMENTED", 501),
    (Code::Internal, "INTERNAL", 500),
    (Code::Unavailable, "UNAVAILABLE", 503),
    (Code::DataLoss, "DATA_LOSS", 500),
    (Code::Unauthenticated, "UNAUTHENTICATED", 401),
];

impl Code {
    pub fn all() -> impl Iterator<Item = Code> {
        TABLE.iter().map(|row| row.0)
    }

    /// The gRPC name, e.g. `NOT_FOUND`.
    pub fn name(self) -> &'static str {
        TABLE[self as usize].1
    }

    /// Accepts `NOT_FOUND`, `not_found` and `NotFound`.
    pub fn from_name(name: &str) -> Option<Code> {
        let wanted: String = name.chars().filter(|c| *c != '_').collect();
        TABLE
            .iter()
            .find(|row| row.1.replace('_', "").eq_ignore_ascii_case(&wanted))
            .map(|row| row.0)
    }

    /// The HTTP-like code go-micro uses for this status.
    pub fn http_code(self) -> u16 {
        TABLE[self as usize].2
    }

    /// Reads a go-micro error code (DESIGN.md mapping; unknown 4xx → FailedPrecondition).
    pub fn from_http(code: i64) -> Code {
        match code {
            200 => Code::Ok,
            400 => Code::InvalidArgument,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            405 | 501 => Code::Unimplemented,
            408 | 504 => Code::DeadlineExceeded,
            409 => Code::AlreadyExists,
            412 => Code::FailedPrecondition,
            413 | 429 => Code::ResourceExhausted,
            499 => Code::Cancelled,
            500 => Code::Internal,
            502 | 503 => Code::Unavailable,
            402..=498 => Code::FailedPrecondition,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An RPC error: data sent by a peer or to a peer, never a failure of rmicro itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub message: String,
    /// go-micro origin id (`go.micro.client`, a service name); empty when unknown.
    pub id: String,
    /// The exact go-micro code when one was given (keeps 402, 418 … intact end to end).
    pub http_code: Option<u16>,
    /// gRPC's and Connect's error details (`google.rpc.Status.details`).
    pub details: Vec<prost_types::Any>,
}

/// go-micro's error object, field order as Go writes it (spec §3.1).
#[derive(Serialize, Deserialize, Default)]
struct MicroError {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    id: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    code: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    detail: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    status: String,
}

fn is_zero(code: &i64) -> bool {
    *code == 0
}

impl Status {
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
            id: String::new(),
            http_code: None,
            details: Vec::new(),
        }
    }

    pub fn with_id(mut self, id: impl Into<String>) -> Status {
        self.id = id.into();
        self
    }

    pub fn invalid_argument(message: impl Into<String>) -> Status {
        Status::new(Code::InvalidArgument, message)
    }

    pub fn internal(message: impl Into<String>) -> Status {
        Status::new(Code::Internal, message)
    }

    pub fn deadline_exceeded(message: impl Into<String>) -> Status {
        Status::new(Code::DeadlineExceeded, message)
    }

    /// The go-micro code this status travels as.
    pub fn micro_code(&self) -> u16 {
        self.http_code.unwrap_or_else(|| self.code.http_code())
    }

    /// go-micro error JSON, compact, as Go's `errors.Error()` prints it.
    pub fn to_micro_json(&self) -> String {
        let code = self.micro_code();
        let error = MicroError {
            id: self.id.clone(),
            code: code.into(),
            detail: self.message.clone(),
            status: http_status_text(code).to_owned(),
        };
        serde_json::to_string(&error).expect("error JSON always serialises")
    }

    /// Reads a `Micro-Error` value: go-micro error JSON, or plain text (router errors,
    /// plain Go errors — spec §3.2), classified by its well-known prefixes.
    pub fn from_micro_error(text: &str) -> Status {
        if let Ok(error) = serde_json::from_str::<MicroError>(text) {
            if error.code != 0 || !error.detail.is_empty() {
                let http_code = u16::try_from(error.code).ok().filter(|c| *c != 0);
                return Status {
                    id: error.id,
                    http_code,
                    ..Status::new(Code::from_http(error.code), error.detail)
                };
            }
        }
        let code = if text.starts_with("rpc: can't find ")
            || text.starts_with("rpc: service/endpoint request ill-formed")
        {
            Code::Unimplemented
        } else if text.starts_with("unsupported Content-Type")
            || text.starts_with("Unsupported Content-Type")
        {
            Code::InvalidArgument
        } else {
            Code::Unknown
        };
        // go-micro's errors.Parse gives plain text code 0, which it never retries.
        Status {
            http_code: Some(0),
            ..Status::new(code, text)
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Status {}

/// Go's `http.StatusText` for the codes go-micro uses.
pub fn http_status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        418 => "I'm a teapot",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README "Exit codes": every go-micro code it names, as `from_http` reads it and as
    /// it arrives in a `Micro-Error` (the path `rmicro call` takes).
    const README_TABLE: [(i64, Code); 21] = [
        (400, Code::InvalidArgument),
        (402, Code::FailedPrecondition),
        (405, Code::Unimplemented),
        (410, Code::FailedPrecondition),
        (415, Code::FailedPrecondition),
        (418, Code::FailedPrecondition),
        (422, Code::FailedPrecondition),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::NotFound),
        (408, Code::DeadlineExceeded),
        (409, Code::AlreadyExists),
        (412, Code::FailedPrecondition),
        (413, Code::ResourceExhausted),
        (429, Code::ResourceExhausted),
        (499, Code::Cancelled),
        (500, Code::Internal),
        (501, Code::Unimplemented),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::DeadlineExceeded),
    ];

    #[test]
    fn readme_table_maps_every_go_micro_code() {
        for (http, code) in README_TABLE {
            assert_eq!(Code::from_http(http), code, "{http}");
            let error = format!(r#"{{"id":"x","code":{http},"detail":"d"}}"#);
            let status = Status::from_micro_error(&error);
            assert_eq!((status.code, status.micro_code()), (code, http as u16));
        }
        // Every other 4xx is a FailedPrecondition (the client's fault, not a retryable
        // one), the rest Unknown.
        for http in [498, 451] {
            assert_eq!(Code::from_http(http), Code::FailedPrecondition, "{http}");
        }
        for http in [-1, 0, 100, 302, 399, 505, 599, 600] {
            assert_eq!(Code::from_http(http), Code::Unknown, "{http}");
        }
        assert_eq!(Status::from_micro_error("boom").code, Code::Unknown);
    }

    #[test]
    fn every_code_reads_back_from_the_go_micro_code_it_is_sent_as() {
        for code in Code::all() {
            // Where go-micro has one code for several statuses, its own reading wins.
            let expected = match code {
                Code::Aborted => Code::AlreadyExists,
                Code::OutOfRange => Code::InvalidArgument,
                Code::Unknown | Code::DataLoss => Code::Internal,
                _ => code,
            };
            assert_eq!(Code::from_http(code.http_code().into()), expected, "{code}");
        }
        // Where several go-micro codes read as one status, these are sent: 408 is
        // go-micro's errors.Timeout, the timeout its clients retry (spec §3.1, §3.4).
        for (code, http) in [
            (Code::DeadlineExceeded, 408),
            (Code::ResourceExhausted, 429),
            (Code::Unimplemented, 501),
            (Code::Unavailable, 503),
        ] {
            assert_eq!(code.http_code(), http, "{code}");
        }
    }

    #[test]
    fn codes_are_numbered_and_named_as_grpc() {
        for (number, code) in Code::all().enumerate() {
            assert_eq!(code as usize, number);
            assert_eq!(Code::from_name(code.name()), Some(code));
        }
        assert_eq!(Code::from_name("NotFound"), Some(Code::NotFound));
        assert_eq!(Code::from_name("nope"), None);
    }

    #[test]
    fn micro_error_json_matches_go_bytes() {
        let status = Status::new(Code::NotFound, "user bob not found").with_id("helloworld");
        assert_eq!(
            status.to_micro_json(),
            r#"{"id":"helloworld","code":404,"detail":"user bob not found","status":"Not Found"}"#
        );
        assert_eq!(
            Status::from_micro_error(&status.to_micro_json()),
            Status {
                http_code: Some(404),
                ..status
            }
        );
    }

    #[test]
    fn plain_text_router_errors_are_classified() {
        let unknown = Status::from_micro_error("rpc: can't find service Foo");
        assert_eq!(unknown.code, Code::Unimplemented);
        assert_eq!(unknown.message, "rpc: can't find service Foo");
        assert_eq!(Status::from_micro_error("boom").code, Code::Unknown);
        assert_eq!(
            Status::from_micro_error(r#"{"id":"x","code":418}"#).micro_code(),
            418
        );
    }
}
