//! `rmicro bench ENDPOINT [DATA]`: a load run, planned as `call` plans one call (the same
//! target, schema, data, metadata, TLS and timeout flags, through [`call::plan`]), then
//! driven by [`crate::bench`]: the load shape checked up front (every combination that
//! cannot work is refused before any call), requests prepared once (an NDJSON file's
//! lines cycled through, one per call), connections opened before the clock starts, a
//! warm-up not counted, live progress on a terminal's stderr only, the report on stdout
//! (text, `-o json` or `-o csv`), and `--assert` thresholds: exit 99 when one fails.

use super::args::{parse_duration, SchemaArgs, TargetArgs};
use super::call::{self, prepare, read_data, schema_for_call, ContentType, Plan};
use super::inspect::peer_error;
use crate::bench::assertion::Assertion;
use crate::bench::report::{Context, Summary};
use crate::bench::schedule::Schedule;
use crate::bench::{self as engine, Kind, Live, Request, Shape, Stop, Work};
use crate::client::{Backoff, Client};
use crate::exit_code::{AssertionFailed, UsageError};
use crate::output;
use crate::protocol::Protocol;
use crate::runtime::Lanes;
use crate::template::{self, text_paths, Template, TextTemplate};
use anyhow::anyhow;
use bytes::Bytes;
use clap::{Args, ValueEnum};
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Service.Method, pkg.Service.Method or pkg.Service/Method.
    #[arg(add = clap_complete::ArgValueCandidates::new(super::complete::endpoints))]
    endpoint: String,
    /// Request JSON (default {}); same as -d.
    #[arg(value_name = "DATA")]
    data_arg: Option<String>,
    /// Request JSON, or @FILE: one JSON document, or NDJSON whose lines are sent in
    /// turn, one per call (a stream takes its messages from them in turn).
    #[arg(
        short = 'd',
        long = "data",
        value_name = "DATA",
        conflicts_with = "data_arg"
    )]
    data: Option<String>,
    #[command(flatten)]
    schema: SchemaArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// Body encoding on the wire (default: json; protobuf for gRPC).
    #[arg(long, value_enum)]
    content_type: Option<ContentType>,
    /// Metadata for the calls only, not for reflection (repeatable; @FILE as for -H).
    #[arg(long = "rpc-header", value_name = "KEY:VALUE")]
    rpc_headers: Vec<String>,
    /// Calls to make [default: 200].
    #[arg(short = 'n', long = "total", value_name = "N", conflicts_with = "duration",
          value_parser = clap::value_parser!(u64).range(1..))]
    total: Option<u64>,
    /// Run for this long instead of a number of calls (calls in flight at the end finish).
    #[arg(short = 'z', long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Calls in flight at once [default: 50, or -n when smaller].
    #[arg(short = 'c', long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    concurrency: Option<u64>,
    /// Connections the calls are spread over (gRPC, JSON-RPC; mucp carries one call at a
    /// time on a connection, so it opens one per call in flight).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    connections: Option<u64>,
    /// Start at most this many calls per second (a constant schedule).
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    rps: Option<f64>,
    /// How the rate changes: const (--rps), step (--rps-start, plus --rps-step every
    /// --step-duration, up to --rps-end) or ramp (--rps-start to --rps-end over -z).
    #[arg(long, value_enum, value_name = "SCHEDULE")]
    rps_schedule: Option<ScheduleArg>,
    /// The rate a step or ramp schedule starts at.
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    rps_start: Option<f64>,
    /// What each step adds to the rate (may be negative).
    #[arg(long, value_name = "R", allow_negative_numbers = true,
          value_parser = parse_signed_rate)]
    rps_step: Option<f64>,
    /// The rate a step schedule stops changing at, or a ramp ends at.
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    rps_end: Option<f64>,
    /// How long each step of a step schedule lasts.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    step_duration: Option<Duration>,
    /// Calls (N) or a time (DURATION) run first and not counted: connections and the
    /// server warmed up.
    #[arg(long, value_name = "N|DURATION", value_parser = parse_warmup)]
    warmup: Option<Stop>,
    /// Request messages per streaming call (default: as many as DATA holds; one for a
    /// server stream).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    stream_messages: Option<u64>,
    /// Time between the request messages of a streaming call.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    stream_interval: Option<Duration>,
    /// Threads making the calls, each connection and its workers on one of them (default:
    /// one per core). With the server on the same machine, --threads 1 leaves it the
    /// other cores, but on 2 cores one thread made fewer calls/s than two (README).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: Option<u64>,
    /// The report: text (for people), json (one document) or csv.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Report,
    /// With -o csv, one row per call; with -o json, a per_call list.
    #[arg(long)]
    per_call: bool,
    /// A threshold, e.g. p99<20ms, mean<5ms, rps>=1000, errors=0, error_rate<0.1%
    /// (repeatable); exit 99 when one does not hold.
    #[arg(long = "assert", value_name = "EXPR", value_parser = Assertion::parse)]
    assertions: Vec<Assertion>,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum ScheduleArg {
    Const,
    Step,
    Ramp,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Report {
    Text,
    Json,
    Csv,
}

const DEFAULT_TOTAL: u64 = 200;
const DEFAULT_CONCURRENCY: u64 = 50;

fn parse_rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate >= 0.0)
        .ok_or_else(|| format!("{text:?} is not a rate in calls per second, like 500"))
}

fn parse_signed_rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite())
        .ok_or_else(|| format!("{text:?} is not a rate in calls per second, like 100 or -50"))
}

fn parse_warmup(text: &str) -> Result<Stop, String> {
    match text.parse::<u64>() {
        Ok(calls) => Ok(Stop::Calls(calls)),
        Err(_) => parse_duration(text)
            .map(Stop::Time)
            .map_err(|_| format!("{text:?} is neither a number of calls nor a duration like 2s")),
    }
}

/// The load shape the flags describe, or why they cannot work together.
struct Load {
    shape: Shape,
    warmup: Option<Shape>,
    concurrency: u64,
    connections: Option<u64>,
}

fn usage(text: impl Into<String>) -> anyhow::Error {
    UsageError(text.into()).into()
}

fn load(args: &BenchArgs) -> anyhow::Result<Load> {
    let stop = match (args.total, args.duration) {
        (_, Some(duration)) if duration.is_zero() => return Err(usage("-z must be longer than 0")),
        (_, Some(duration)) => Stop::Time(duration),
        (total, None) => Stop::Calls(total.unwrap_or(DEFAULT_TOTAL)),
    };
    let concurrency = match (args.concurrency, stop) {
        (Some(concurrency), Stop::Calls(total)) if concurrency > total => {
            return Err(usage(format!(
                "-c {concurrency} calls in flight cannot be reached by -n {total} calls: lower -c, or raise -n"
            )))
        }
        (Some(concurrency), _) => concurrency,
        (None, Stop::Calls(total)) => DEFAULT_CONCURRENCY.min(total),
        (None, Stop::Time(_)) => DEFAULT_CONCURRENCY,
    };
    if let Some(connections) = args.connections.filter(|n| *n > concurrency) {
        return Err(usage(format!(
            "--connections {connections} is more than the {concurrency} calls in flight (-c): each connection needs a call; lower --connections or raise -c"
        )));
    }
    let rate = schedule(args, stop)?;
    if let Some(Stop::Calls(0)) = args.warmup {
        return Err(usage("--warmup 0 warms nothing up: drop it"));
    }
    let warmup = args.warmup.map(|stop| Shape {
        stop,
        rate: rate
            .as_ref()
            .map(Schedule::initial)
            .filter(|rate| *rate > 0.0)
            .map(|rate| Schedule::Const { rate }),
    });
    Ok(Load {
        shape: Shape { stop, rate },
        warmup,
        concurrency,
        connections: args.connections,
    })
}

fn schedule(args: &BenchArgs, stop: Stop) -> anyhow::Result<Option<Schedule>> {
    let kind = args.rps_schedule.unwrap_or(ScheduleArg::Const);
    let shaped = [
        ("--rps-start", args.rps_start.is_some()),
        ("--rps-step", args.rps_step.is_some()),
        ("--rps-end", args.rps_end.is_some()),
        ("--step-duration", args.step_duration.is_some()),
    ];
    let given = |flags: &[&str]| -> Vec<&str> {
        shaped
            .iter()
            .filter(|(flag, set)| *set && flags.contains(flag))
            .map(|(flag, _)| *flag)
            .collect()
    };
    let missing = |flag: &str, set: bool| {
        if set {
            Ok(())
        } else {
            Err(usage(format!(
                "--rps-schedule {} needs {flag}",
                kind.to_possible_value().expect("a value").get_name()
            )))
        }
    };
    match kind {
        ScheduleArg::Const => {
            let extra = given(&["--rps-start", "--rps-step", "--rps-end", "--step-duration"]);
            if !extra.is_empty() {
                return Err(usage(format!(
                    "{} shape a step or ramp schedule: add --rps-schedule step or ramp",
                    extra.join(", ")
                )));
            }
            match args.rps {
                Some(rate) if rate <= 0.0 => Err(usage("--rps must be above 0")),
                Some(rate) => Ok(Some(Schedule::Const { rate })),
                None if args.rps_schedule.is_some() => Err(usage("--rps-schedule const needs --rps")),
                None => Ok(None),
            }
        }
        _ if args.rps.is_some() => Err(usage(
            "--rps is the constant schedule's rate; a step or ramp schedule takes --rps-start and --rps-end",
        )),
        ScheduleArg::Step => {
            missing("--rps-start", args.rps_start.is_some())?;
            missing("--rps-step", args.rps_step.is_some())?;
            missing("--step-duration", args.step_duration.is_some())?;
            let (start, step) = (args.rps_start.unwrap_or(0.0), args.rps_step.unwrap_or(0.0));
            let every = args.step_duration.unwrap_or_default();
            if every.is_zero() {
                return Err(usage("--step-duration must be longer than 0"));
            }
            if let Some(end) = args.rps_end {
                if (step > 0.0 && end < start) || (step < 0.0 && end > start) {
                    return Err(usage(format!(
                        "--rps-step {step} moves away from --rps-end {end}, from --rps-start {start}"
                    )));
                }
            }
            if start <= 0.0 && step <= 0.0 {
                return Err(usage("a step schedule from --rps-start 0 needs a positive --rps-step"));
            }
            Ok(Some(Schedule::Step {
                start,
                step,
                end: args.rps_end,
                every,
            }))
        }
        ScheduleArg::Ramp => {
            missing("--rps-start", args.rps_start.is_some())?;
            missing("--rps-end", args.rps_end.is_some())?;
            let extra = given(&["--rps-step", "--step-duration"]);
            if !extra.is_empty() {
                return Err(usage(format!(
                    "{} shape a step schedule; a ramp goes from --rps-start to --rps-end over -z",
                    extra.join(", ")
                )));
            }
            let Stop::Time(over) = stop else {
                return Err(usage(
                    "--rps-schedule ramp rises over the run's -z duration: give -z rather than -n",
                ));
            };
            let (start, end) = (args.rps_start.unwrap_or(0.0), args.rps_end.unwrap_or(0.0));
            if start <= 0.0 && end <= 0.0 {
                return Err(usage("a ramp from 0 to 0 makes no calls"));
            }
            Ok(Some(Schedule::Ramp { start, end, over }))
        }
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let load = load(&args)?;
    if args.per_call && args.output == Report::Text {
        return Err(usage("--per-call is for -o csv or -o json"));
    }
    let streamed = args.stream_messages.is_some() || args.stream_interval.is_some();
    let Plan {
        metadata,
        reflect_metadata,
        local,
        mut client,
        codec,
        wrapped,
        records,
    } = call::plan(
        &args.endpoint,
        &args.schema,
        &args.target,
        &args.rpc_headers,
        args.content_type,
        args.target.call_options(0, Backoff::None),
    )?;
    if let Some(body) = wrapped {
        return Err(usage(format!(
            "rmicro bench sends JSON or protobuf; drop --content-type {}",
            body.content_type
        )));
    }
    let protocol = client.protocol();
    let connections = match (protocol, load.connections) {
        (Protocol::Mucp, Some(connections)) if connections != load.concurrency => {
            return Err(usage(format!(
                "mucp carries one call at a time on a connection, so -c {} opens {} connections: drop --connections {connections}",
                load.concurrency, load.concurrency
            )))
        }
        (Protocol::Mucp, _) => load.concurrency,
        (_, connections) => connections.unwrap_or(1),
    };
    let data = args.data.as_deref().or(args.data_arg.as_deref());
    let data = match data {
        Some("@-") => {
            return Err(usage(
                "bench reads its requests from DATA or -d @FILE, not stdin",
            ))
        }
        data => read_data(data)?,
    };
    let threads = crate::runtime::threads(args.threads);
    let cannot_start = |error| anyhow!("cannot start the load generator's threads: {error}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(cannot_start)?;
    // More than one thread: each connection, and the workers on it, on one of them.
    let lanes = match threads {
        1 => None,
        _ => Some(Lanes::start(threads, "rmicro-bench").map_err(cannot_start)?),
    };
    runtime.block_on(async {
        let schema = schema_for_call(
            &mut client,
            &args.endpoint,
            local,
            &reflect_metadata,
            false,
            records,
        )
        .await?;
        let method = match (schema.schema(), protocol) {
            (Some(pool), _) => Some(pool.resolve(&args.endpoint)?),
            (None, protocol) if protocol.is_grpc_family() => {
                return Err(anyhow!("{} offers no reflection, so the run needs a schema: pass --proto or --descriptor-set", client.address()))
            }
            (None, _) => None,
        };
        let streaming = method.as_ref().filter(|method| crate::schema::is_streaming(method));
        if streaming.is_none() && schema.record_streams() {
            return Err(usage(format!(
                "{} is a streaming method (its registry record says so); rmicro bench needs its schema to tell a client stream from a server stream: pass --proto or --descriptor-set",
                args.endpoint
            )));
        }
        if streaming.is_some() && !(protocol.is_grpc_family() || protocol == Protocol::Mucp) {
            return Err(usage(format!(
                "{} is a streaming method; rmicro bench streams over mucp (go-micro streams), gRPC, Connect and gRPC-Web, not {}",
                args.endpoint,
                protocol.scheme()
            )));
        }
        if streamed && streaming.is_none() {
            return Err(usage(
                "--stream-messages and --stream-interval are for streaming methods; this one is unary",
            ));
        }
        let values: Vec<&[u8]> = documents(&data)?;
        let schema = Arc::new(schema);
        let mut requests = Vec::with_capacity(values.len());
        let mut prepared = None;
        for (index, value) in values.iter().enumerate() {
            let which = || {
                if values.len() > 1 {
                    format!("request {} of DATA", index + 1)
                } else {
                    "DATA".to_owned()
                }
            };
            let template = request_template(value).map_err(|error| usage(format!("{}: {error}", which())))?;
            // A template is checked by rendering it for the first call.
            let first = match &template {
                Some(template) => render_text(template, &endpoint_of(&args.endpoint), 1),
                None => value.to_vec(),
            };
            let one = prepare(&args.endpoint, &schema, codec, &first, protocol)
                .map_err(|error| error.context(which()))?;
            let head = one.head(codec, &metadata);
            let (service, endpoint, path) =
                (head.service.to_owned(), head.endpoint.to_owned(), head.path.to_owned());
            let check = one.reply_checker(codec);
            requests.push(match template {
                None => Request::Ready(Bytes::from(one.into_body())),
                Some(template) => {
                    let (schema, name, shown) =
                        (schema.clone(), args.endpoint.clone(), endpoint.clone());
                    Request::Rendered(Box::new(move |seq| {
                        let text = render_text(&template, &shown, seq);
                        prepare(&name, &schema, codec, &text, protocol)
                            .map(|prepared| Bytes::from(prepared.into_body()))
                            .map_err(|error| format!("{error:#}"))
                    }))
                }
            });
            prepared.get_or_insert((service, endpoint, path, check));
        }
        let (service, endpoint, path, check) = prepared.expect("DATA holds a request");
        let kind = match streaming {
            None => Kind::Unary,
            Some(method) => Kind::Stream {
                messages: match args.stream_messages {
                    Some(_) if !method.is_client_streaming() => {
                        return Err(usage(format!(
                            "{} takes one request message (a server stream): drop --stream-messages",
                            method.name()
                        )))
                    }
                    Some(messages) => messages,
                    None if method.is_client_streaming() => requests.len() as u64,
                    None => 1,
                },
                interval: args.stream_interval.unwrap_or_default(),
            },
        };
        let metadata_template = metadata_template(&metadata, &endpoint)?;
        let work = Arc::new(Work {
            service,
            endpoint: endpoint.clone(),
            path,
            codec,
            metadata,
            metadata_template,
            requests,
            kind,
            check: Box::new(check),
            per_call: args.per_call,
        });
        let workers = workers(&client, load.concurrency, connections, lanes.as_ref()).await?;
        let interrupted = Arc::new(std::sync::Mutex::new(None::<Arc<Live>>));
        let watcher = {
            let interrupted = interrupted.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    if let Some(live) = interrupted.lock().expect("live lock").as_ref() {
                        live.stop();
                    }
                }
            })
        };
        let mut workers = workers;
        let mut warmup_calls = 0;
        if let Some(warmup) = &load.warmup {
            let live = Arc::new(Live::default());
            *interrupted.lock().expect("live lock") = Some(live.clone());
            let spinner = output::spinner("warming up".into());
            let (back, tally) = engine::run(workers, work.clone(), warmup, live.clone(), 0).await;
            if let Some(spinner) = spinner {
                spinner.finish_and_clear();
            }
            workers = back;
            warmup_calls = tally.calls;
            if live.stopped() {
                return Err(crate::exit_code::Interrupted.into());
            }
        }
        let live = Arc::new(Live::default());
        *interrupted.lock().expect("live lock") = Some(live.clone());
        let progress = show_progress(live.clone(), load.shape.stop);
        let (_, tally) = engine::run(workers, work, &load.shape, live, warmup_calls).await;
        if let Some(progress) = progress {
            progress.clear();
        }
        watcher.abort();
        let target = match &args.target.service {
            Some(name) => format!("service {name}"),
            None if tally.nodes.len() > 1 => format!("{} nodes", tally.nodes.len()),
            None => client.address().to_owned(),
        };
        let context = Context {
            endpoint,
            protocol: protocol.scheme(),
            target,
            concurrency: load.concurrency as usize,
            connections: connections as usize,
            warmup_calls,
        };
        let mut summary = Summary::new(&tally, context, args.per_call);
        let verdicts: Vec<_> = args.assertions.iter().map(|a| a.check(&summary)).collect();
        summary.add_verdicts(&verdicts);
        print(&summary, args.output, args.per_call)?;
        let failed: Vec<String> = verdicts
            .iter()
            .filter(|verdict| !verdict.held)
            .map(ToString::to_string)
            .collect();
        if !failed.is_empty() {
            return Err(AssertionFailed(format!(
                "{} of {} assertions failed: {}",
                failed.len(),
                verdicts.len(),
                failed.join("; ")
            ))
            .into());
        }
        if tally.calls > 0 && tally.errors == tally.calls {
            let first = tally.kinds.values().next().map(|kind| kind.first.clone());
            return Err(anyhow!(
                "every call failed: {}",
                first.unwrap_or_default()
            ));
        }
        Ok(())
    })
}

/// A request with templates in it (`{{seq}}`, `{{uuid}}`, `{{now}}`, `{{endpoint}}`),
/// or `None` when it has none. There is no request to read `{{request.…}}` from, nor
/// metadata for `{{metadata.…}}`.
fn request_template(value: &[u8]) -> Result<Option<Template>, String> {
    let json: serde_json::Value = match serde_json::from_slice(value) {
        Ok(json) => json,
        // Not JSON: prepare() says so.
        Err(_) => return Ok(None),
    };
    let mut template = Template::parse(&json)?;
    if template.is_literal() {
        return Ok(None);
    }
    if !template.request_paths_mut().is_empty() {
        return Err("{{request.…}} has no request to read from in a bench's DATA; use {{seq}}, {{uuid}}, {{now}} or {{endpoint}}".into());
    }
    Ok(Some(template))
}

/// The request of call `seq` as JSON text.
fn render_text(template: &Template, endpoint: &str, seq: u64) -> Vec<u8> {
    let context = template::Context::new(endpoint, seq, None, || serde_json::Value::Null);
    serde_json::to_vec(&template.render(&context)).expect("JSON values serialise")
}

/// `Service.Method` as templates name it.
fn endpoint_of(endpoint: &str) -> String {
    endpoint
        .trim_start_matches('/')
        .rsplit_once('/')
        .map_or(endpoint.to_owned(), |(service, method)| {
            format!("{}.{method}", service.rsplit('.').next().unwrap_or(service))
        })
}

/// The -H values with templates, rendered per call; `None` when none has any.
fn metadata_template(
    metadata: &crate::message::Metadata,
    endpoint: &str,
) -> anyhow::Result<Option<engine::RenderMetadata>> {
    let mut values = Vec::new();
    let mut templated = false;
    for (name, value) in metadata.iter() {
        let template =
            TextTemplate::parse(value).map_err(|error| usage(format!("-H {name}: {error}")))?;
        if !template.is_literal() {
            if text_paths(&mut template.clone()).next().is_some() {
                return Err(usage(format!(
                    "-H {name}: {{{{request.…}}}} has no request to read from in a bench; use {{{{seq}}}}, {{{{uuid}}}} or {{{{now}}}}"
                )));
            }
            templated = true;
        }
        values.push((name.to_owned(), template));
    }
    if !templated {
        return Ok(None);
    }
    let endpoint = endpoint.to_owned();
    let base = metadata.clone();
    Ok(Some(Box::new(move |seq| {
        let context =
            template::Context::new(&endpoint, seq, Some(&base), || serde_json::Value::Null);
        let mut rendered = crate::message::Metadata::new();
        for (name, template) in &values {
            rendered.push(name, template.render(&context));
        }
        rendered
    })))
}

/// The JSON documents of DATA: one, or the lines of NDJSON (blank lines skipped).
fn documents(data: &[u8]) -> anyhow::Result<Vec<&[u8]>> {
    let mut values = Vec::new();
    let mut stream =
        serde_json::Deserializer::from_slice(data).into_iter::<serde::de::IgnoredAny>();
    let mut from = 0;
    while let Some(next) = stream.next() {
        next.map_err(|error| anyhow!("request {} of DATA is not JSON: {error}", values.len() + 1))?;
        let to = stream.byte_offset();
        values.push(data[from..to].trim_ascii());
        from = to;
    }
    if values.is_empty() {
        values.push(b"{}".as_slice());
    }
    Ok(values)
}

/// One client per call in flight, spread over `connections` connections (worker i on
/// connection i mod N), each opened now, on the lane it is then used on (connection i on
/// lane i mod the lanes): a server that cannot be reached stops the run before it starts
/// (exit 1).
async fn workers(
    base: &Client,
    concurrency: u64,
    connections: u64,
    lanes: Option<&Lanes>,
) -> anyhow::Result<Vec<engine::Worker>> {
    let address = base.address().to_owned();
    let mut workers: Vec<engine::Worker> = Vec::with_capacity(concurrency as usize);
    for index in 0..concurrency {
        let mut client = match index < connections {
            true => base.detached(),
            false => workers[(index % connections) as usize].0.worker(),
        };
        let lane = lanes.map(|lanes| lanes.lane((index % connections) as usize).clone());
        let connected = match &lane {
            // Connected there, so that its socket and connection task belong to that lane.
            Some(lane) => lane
                .spawn(async move { client.connect().await.map(|()| client) })
                .await
                .map_err(|error| anyhow!("a load generator's thread failed: {error}"))?,
            None => client.connect().await.map(|()| client),
        };
        let client = connected.map_err(|error| peer_error(error, &address))?;
        workers.push((client, lane));
    }
    Ok(workers)
}

/// Live progress on a terminal's stderr, four times a second: elapsed, done of the total
/// (or the time gone of -z), calls/s over the last moment, p50/p99 and errors so far.
/// None on a pipe.
fn show_progress(live: Arc<Live>, stop: Stop) -> Option<Progress> {
    let (length, template) = match stop {
        Stop::Calls(total) => (
            total,
            "{elapsed_precise} [{bar:20}] {pos}/{len} calls · {msg}",
        ),
        Stop::Time(duration) => (
            duration.as_millis() as u64,
            "{elapsed_precise} [{bar:20}] {percent:>3}% · {msg}",
        ),
    };
    let bar = output::progress_bar(length, template)?;
    let drawn = bar.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let (mut last_done, mut last_at) = (0, Duration::ZERO);
        loop {
            tick.tick().await;
            let now = live.progress();
            let span = (now.elapsed - last_at).as_secs_f64();
            let rate = if span > 0.0 {
                (now.done - last_done) as f64 / span
            } else {
                0.0
            };
            (last_done, last_at) = (now.done, now.elapsed);
            let latency = |value: Option<Duration>| {
                value.map_or("-".to_owned(), |value| {
                    format!("{:.2}ms", value.as_secs_f64() * 1e3)
                })
            };
            drawn.set_message(format!(
                "{rate:.0} calls/s · p50 {} p99 {} · {} errors",
                latency(now.p50),
                latency(now.p99),
                now.errors
            ));
            drawn.set_position(match stop {
                Stop::Calls(_) => now.done,
                Stop::Time(_) => (now.elapsed.as_millis() as u64).min(length),
            });
        }
    });
    Some(Progress { bar, task })
}

/// The progress display of a run, cleared when the run ends.
struct Progress {
    bar: indicatif::ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn clear(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

fn print(summary: &Summary, report: Report, per_call: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match (report, per_call) {
        (Report::Text, _) => stdout.write_all(summary.text().as_bytes())?,
        (Report::Json, _) => {
            serde_json::to_writer_pretty(&mut stdout, summary)?;
            stdout.write_all(b"\n")?;
        }
        (Report::Csv, false) => stdout.write_all(summary.csv().as_bytes())?,
        (Report::Csv, true) => {
            let mut out = std::io::BufWriter::new(&mut stdout);
            summary.csv_per_call(&mut out)?;
            out.flush()?;
        }
    }
    stdout.flush()?;
    Ok(())
}
