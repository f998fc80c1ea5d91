//! The examples and exit codes each subcommand's `--help` ends with. The examples run
//! against the README's quick-start servers (Job on 127.0.0.1:8080, echo.v1.Echo on
//! :8081, Arith over JSON-RPC on :1234); a unit test parses every one with clap.

pub const SERVE: &str = "\
Examples:
  rmicro serve --proto proto-samples/job.proto --handlers proto-samples/job.handlers.json
  rmicro serve --descriptor-set proto-samples/shop.pb --address 0.0.0.0:9000 --strict
  rmicro serve --proto api.proto -I proto/ --tls-cert cert.pem --tls-key key.pem
  rmicro serve --allow-empty --no-register      # only the Debug service

Exit codes:
  0  stopped by SIGINT/SIGTERM after finishing in-flight requests
  1  the schema, handlers file or TLS files are unusable; the address cannot be bound
  2  usage error (bad flags; no schema without --allow-empty)";

pub const CALL: &str = "\
Examples:
  rmicro call Job.CreateJob '{\"name\":\"nightly\"}' -a 127.0.0.1:8080
  rmicro call -a grpc://127.0.0.1:8081 echo.v1.Echo/Chat -d @requests.ndjson
  rmicro call -a jsonrpc://127.0.0.1:1234 Arith.Multiply '{\"A\":7,\"B\":8}'
  rmicro call --service job Job.GetJob -d @request.json -H Tenant:acme --retries 3 -v

Exit codes:
  0       success
  1       local or transport failure: bad schema, request JSON that does not fit,
          connection refused, a reply that cannot be decoded
  2       usage error: bad flags, no address, unknown address scheme
  64 + N  the server returned gRPC status N: 67 InvalidArgument, 68 DeadlineExceeded
          (also --timeout, --max-time), 69 NotFound, 71 PermissionDenied,
          76 Unimplemented, 77 Internal, 78 Unavailable
  130     interrupted: Ctrl-C cancelled a streaming call";

pub const LIST: &str = "\
Examples:
  rmicro list -a 127.0.0.1:8080
  rmicro list -a grpc://127.0.0.1:8081 -o json --protoset-out echo.pb
  rmicro list --proto proto-samples/shop.proto
  rmicro list                 # the registry's services; `rmicro list job` for one

Exit codes:
  0       success
  1       local or transport failure (bad schema, connection refused, no Debug service)
  2       usage error
  64 + N  the server returned gRPC status N (e.g. 76 Unimplemented)";

pub const DESCRIBE: &str = "\
Examples:
  rmicro describe Job.CreateJob -a 127.0.0.1:8080
  rmicro describe -a grpc://127.0.0.1:8081 echo.v1.Echo
  rmicro describe --proto proto-samples/shop.proto shop.Order -o json
  rmicro describe --proto proto-samples/job.proto job.Job --format proto > job.proto

Exit codes:
  0       success
  1       unknown symbol, bad schema, or a transport failure
  2       usage error
  64 + N  the server returned gRPC status N";

pub const HEALTH: &str = "\
Examples:
  rmicro health -a 127.0.0.1:8080
  rmicro health --service job --wait 10s
  rmicro health -a grpc://127.0.0.1:8081 echo.v1.Echo

Exit codes:
  0       healthy (every node, with --service)
  1       not serving, no answer within --wait, or a transport failure
  2       usage error
  64 + N  the server returned gRPC status N (e.g. 69 NotFound: an unknown gRPC service)";

pub const STATS: &str = "\
Examples:
  rmicro stats -a 127.0.0.1:8080
  rmicro stats --service job -o json
  rmicro stats -a grpc://127.0.0.1:8081

Exit codes:
  0       success
  1       local or transport failure
  2       usage error
  64 + N  the server returned gRPC status N (e.g. 76: not an rmicro server)";

pub const BENCH: &str = "\
Examples:
  rmicro bench Job.CreateJob '{}' -a 127.0.0.1:8080 -n 10000 -c 32
  rmicro bench -a grpc://127.0.0.1:8081 echo.v1.Echo/Say '{\"text\":\"hi\"}' -z 30s --rps 500
  rmicro bench Job.CreateJob '{}' --service job --assert 'p99<20ms'

Exit codes:
  0       the run completed (failed calls are counted in the report)
  1       the run could not start (bad schema, no server)
  2       usage error
  99      an --assert threshold failed";

pub const JOURNAL: &str = "\
Examples:
  rmicro journal -a 127.0.0.1:8080
  rmicro journal Job.CreateJob -a 127.0.0.1:8080 -o json
  rmicro journal --clear --service job

Exit codes:
  0       success
  1       local or transport failure
  2       usage error
  64 + N  the server returned gRPC status N";

pub const VERIFY: &str = "\
Examples:
  rmicro verify Job.CreateJob -a 127.0.0.1:8080
  rmicro verify Job.CreateJob --match '{\"name\":\"nightly\"}' --at-least 1
  rmicro verify Job.DeleteJob --service job --count 0

Exit codes:
  0       the calls expected were received
  1       they were not (the nearest calls are shown), or a transport failure
  2       usage error
  64 + N  the server returned gRPC status N";

pub const COMPLETIONS: &str = "\
Examples:
  rmicro completions bash > ~/.local/share/bash-completion/completions/rmicro
  rmicro completions zsh > \"${fpath[1]}/_rmicro\"
  rmicro completions fish > ~/.config/fish/completions/rmicro.fish
  source <(COMPLETE=bash rmicro)     # dynamic: endpoint and service names too

Exit codes:
  0  success
  2  usage error (an unknown shell)";

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    /// Splits a shell line into words: single and double quotes, no expansion; a `#`
    /// starts a comment, a redirection ends the command.
    fn words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let (mut word, mut quote, mut started) = (String::new(), None, false);
        for character in line.chars() {
            match (quote, character) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => {
                    quote = Some(character);
                    started = true;
                }
                (None, ' ') => {
                    if started || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                        started = false;
                    }
                }
                (None, '#' | '>') if word.is_empty() && !started => break,
                (None, c) => word.push(c),
            }
        }
        if started || !word.is_empty() {
            words.push(word);
        }
        words
    }

    /// Every subcommand's help ends with examples that parse and with its exit codes.
    #[test]
    fn every_help_has_examples_that_parse_and_exit_codes() {
        let command = crate::cli::command();
        for sub in command.get_subcommands() {
            let help = sub
                .get_after_help()
                .unwrap_or_else(|| panic!("{} has no examples", sub.get_name()))
                .to_string();
            assert!(
                help.contains("\nExit codes:\n"),
                "{}: {help}",
                sub.get_name()
            );
            let examples: Vec<&str> = help
                .lines()
                .map(str::trim)
                .filter(|line| line.starts_with("rmicro "))
                .collect();
            assert!(
                (3..=4).contains(&examples.len()),
                "{}: {} examples",
                sub.get_name(),
                examples.len()
            );
            for example in examples {
                if example.contains("COMPLETE=") {
                    continue;
                }
                let args = words(example);
                assert_eq!(args[1], sub.get_name(), "{example}");
                if let Err(error) = crate::cli::Cli::try_parse_from(&args) {
                    panic!("`{example}` does not parse: {error}");
                }
            }
        }
    }
}
