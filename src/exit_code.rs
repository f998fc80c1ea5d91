//! Exit-code policy, in one place (DESIGN.md "Exit codes"): 0 success, 1 local or
//! transport failure, 2 usage error, 99 a failed `bench --assert`, 130 interrupted, 64 + gRPC code when the peer returned an error
//! (as grpcurl does). `main` calls [`for_error`]; nothing else decides exit codes.

use crate::status::{Code, Status};

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
/// 128 + SIGINT, as a shell reports a command that Ctrl-C stopped.
pub const INTERRUPTED: u8 = 130;
const PEER_ERROR_BASE: u8 = 64;
/// `rmicro bench` ran, and an `--assert` threshold did not hold (k6's convention).
pub const ASSERTION_FAILED: u8 = 99;

/// A mistake in how rmicro was invoked, found after argument parsing (clap reports its own
/// with exit 2 too).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Ctrl-C cancelled a call; the server was told (gRPC: RST_STREAM CANCEL).
#[derive(Debug, thiserror::Error)]
#[error("interrupted: the call was cancelled")]
pub struct Interrupted;

/// A load run completed and an `--assert` threshold did not hold; the text names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AssertionFailed(pub String);

/// The exit code for an RPC status returned by the peer.
pub fn for_status(code: Code) -> u8 {
    PEER_ERROR_BASE + code as u8
}

/// The exit code for any error that reached `main`.
pub fn for_error(error: &anyhow::Error) -> u8 {
    if let Some(status) = error.downcast_ref::<Status>() {
        for_status(status.code)
    } else if error.is::<UsageError>() {
        USAGE
    } else if error.is::<AssertionFailed>() {
        ASSERTION_FAILED
    } else if error.is::<Interrupted>() {
        INTERRUPTED
    } else {
        FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            (anyhow::Error::new(Status::new(Code::NotFound, "x")), 69),
            (
                anyhow::Error::new(Status::new(Code::DeadlineExceeded, "x")),
                68,
            ),
            (anyhow::Error::new(Status::new(Code::Unavailable, "x")), 78),
            (
                anyhow::Error::new(Status::new(Code::Unimplemented, "x")),
                76,
            ),
            (anyhow::Error::new(Status::new(Code::Internal, "x")), 77),
            (anyhow::Error::new(Status::new(Code::Unknown, "x")), 66),
            (anyhow::Error::new(UsageError("x".into())), 2),
            (anyhow::Error::new(Interrupted), 130),
            (anyhow::Error::new(AssertionFailed("p99<20ms".into())), 99),
            (anyhow::anyhow!("connection refused"), 1),
            (
                anyhow::Error::new(Status::new(Code::NotFound, "x")).context("calling Job.GetJob"),
                69,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(for_error(&error), code, "{error:#}");
        }
        assert_eq!(for_status(Code::Unauthenticated), 80);
    }

    #[test]
    fn every_status_exits_64_plus_its_grpc_number() {
        let grpc = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        assert_eq!(Code::all().count(), grpc.len());
        for (number, name) in grpc.into_iter().enumerate() {
            let code = Code::from_name(name).unwrap();
            assert_eq!(usize::from(for_status(code)), 64 + number, "{name}");
        }
    }

    /// README "Exit codes": what `rmicro call` exits with for each go-micro error it can
    /// receive in `Micro-Error`.
    #[test]
    fn go_micro_errors_exit_as_the_readme_says() {
        let cases = [
            (r#"{"code":400}"#, 67),
            (r#"{"code":401}"#, 80),
            (r#"{"code":403}"#, 71),
            (r#"{"code":404}"#, 69),
            (r#"{"code":408}"#, 68),
            (r#"{"code":409}"#, 70),
            (r#"{"code":412}"#, 73),
            (r#"{"code":413}"#, 72),
            (r#"{"code":429}"#, 72),
            (r#"{"code":499}"#, 65),
            (r#"{"code":500}"#, 77),
            (r#"{"code":501}"#, 76),
            (r#"{"code":502}"#, 78),
            (r#"{"code":503}"#, 78),
            (r#"{"code":504}"#, 68),
            ("rpc: can't find service Foo", 76),
            ("boom", 66),
        ];
        for (micro_error, exit) in cases {
            let error = anyhow::Error::new(Status::from_micro_error(micro_error));
            assert_eq!(for_error(&error), exit, "{micro_error}");
        }
    }
}
