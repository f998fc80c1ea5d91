# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_rmicro_global_optspecs
    string join \n h/help V/version
end

function __fish_rmicro_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_rmicro_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_rmicro_using_subcommand
    set -l cmd (__fish_rmicro_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c rmicro -n "__fish_rmicro_needs_command" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_needs_command" -s V -l version -d 'Print version'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "serve" -d 'Serve the services of a schema, answered by the rules of a handlers file'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "call" -d 'Call one endpoint and print the reply as JSON'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "list" -d 'List a server\'s endpoints (or a local schema\'s)'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "bench" -d 'Load-test an endpoint: calls in flight, a rate, a report with latency percentiles, thresholds for CI'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "describe" -d 'Show the request and response layouts of an endpoint or message'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "health" -d 'Check a server\'s Debug.Health, optionally waiting until it answers'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "stats" -d 'Show a server\'s request statistics (Debug.Stats)'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "journal" -d 'Show the calls a `rmicro serve` received (its request journal), or clear them'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "verify" -d 'Check that a `rmicro serve` received the calls expected: exit 0 if so, 1 if not'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c rmicro -n "__fish_rmicro_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proto -d 'A .proto file to compile (repeatable); imports are found through -I' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -s I -l import-path -d 'A directory to search for .proto imports (repeatable; default: each file\'s own directory)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l descriptor-set -d 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l handlers -d 'Handlers file: JSON rules per endpoint (reply, match, error, delay, sequence, exec). Watched while serving (and re-read on SIGHUP): a valid new file takes over' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l journal-size -d 'Calls the request journal keeps (Debug.Requests, `rmicro journal`), the oldest dropped first (also past 64 MiB of requests held); 0 keeps none' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l journal -d 'Also append every journal entry to FILE as NDJSON' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l threads -d 'Threads serving connections, each connection served on one of them for its life (default: one per core)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -s a -l address -d 'Address to listen on: HOST:PORT (port 0 picks a free port), or a unix socket, unix:///PATH (removed when the server stops)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l name -d 'Service name (default: the schema\'s package)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l version -d 'Service version, as published in the service record' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l max-message-size -d 'Largest request body accepted (e.g. 4MiB), and the most an exec handler may print (its reply, or one line of a stream)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l decode-budget -d 'Memory that decoded requests may hold at once, all connections together. A request that decodes to far more than its size (a long packed repeated field: 56 bytes per element) holds its share while it is handled; others wait for theirs within their deadline, and one that needs more than all of it gets ResourceExhausted' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l exec-concurrency -d 'Exec handler processes running at once, all endpoints together; later calls queue within their deadline [default: 4 per core]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l grace -d 'How long in-flight requests may take to finish after SIGINT/SIGTERM' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l header-timeout -d 'How long a client may take to send a request\'s head, from its first byte; a new connection\'s TLS handshake and first bytes count too. A head too slow gets 408 and the connection is closed (0 = no limit)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l body-timeout -d 'How long a client may take to send a request\'s body once its head is in (for JSON-RPC, a whole request from its first byte); too slow gets 408 (0 = no limit)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l idle-timeout -d 'How long a kept-alive HTTP/1.1 or JSON-RPC connection may wait with no request in progress before it is closed (0 = no limit)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l write-timeout -d 'How long a streamed HTTP/1.1 reply (Connect, gRPC-Web) may wait on a client that takes none of it before the call and the connection end (0 = no limit)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l keepalive-time -d 'How long an HTTP/2 (gRPC, Connect) connection may be silent before it is pinged (0 = never)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l keepalive-timeout -d 'How long a pinged HTTP/2 peer may take to answer before its connection is closed' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l metadata -d 'Node metadata published in the registry (repeatable)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l advertise -d 'The address published in the registry (default: the bound one; for 0.0.0.0, this host\'s outgoing address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l register-ttl -d 'How long the registry keeps the record without a heartbeat (re-registered every third of it)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l tls-cert -d 'Serve every protocol over TLS with this PEM certificate chain (needs --tls-key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l tls-key -d 'The PEM private key of --tls-cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l cors-origin -d 'Let browser pages from this origin call over Connect and gRPC-Web: CORS preflights are answered, and replies expose the status headers (repeatable; `scheme://host[:port]`, or `*` for any origin)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l client-ca -d 'Require client certificates signed by this PEM CA (mutual TLS)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy -d 'Pass every endpoint without a rule of its own on to this server: grpc://, grpcs://, jsonrpc://, mucp://HOST:PORT, HOST:PORT (mucp) or service:NAME (its nodes from the registry). Without a schema flag, the schema is the upstream\'s (reflection, or its Debug.Endpoints)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-timeout -d 'Each attempt of a proxied unary call, and the opening of a proxied stream, unless the caller\'s deadline comes sooner (an open stream lasts until its caller\'s deadline)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-dial-timeout -d 'Timeout for opening a connection to the upstream' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-retries -d 'Extra attempts of a proxied call, on what `rmicro call --retries` retries' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-refresh -d 'How often a service:NAME upstream\'s nodes are read again from the registry (at the next call, which goes on to the nodes read before), so that nodes that come are used and nodes that go are dropped' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-cacert -d 'Trust the upstream certificates this PEM CA signed (gRPC over TLS)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-cert -d 'A PEM client certificate for the upstream (with --proxy-key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-key -d 'The PEM private key of --proxy-cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-authority -d 'The :authority sent upstream and the name its certificate must carry' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l record -d 'Record every proxied exchange into FILE as a handlers file (added to what FILE holds; written on SIGHUP and at shutdown). `serve --handlers FILE` replays it' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l record-redact -d 'A reply header or trailer kept out of the recording (repeatable); authorization is always kept out' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l strict -d 'Answer endpoints without a handler with Unimplemented instead of an empty reply'
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l allow-empty -d 'Start even with no service to serve (no schema, or one without services): only the built-in Debug service answers'
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l no-register -d 'Do not register in any registry'
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -l proxy-insecure -d 'Do not check the upstream\'s certificate'
complete -c rmicro -n "__fish_rmicro_using_subcommand serve" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -s d -l data -d 'Request JSON, @FILE to read a file, or @- to read stdin' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l proto -d 'A .proto file to compile (repeatable); imports are found through -I' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -s I -l import-path -d 'A directory to search for .proto imports (repeatable; default: each file\'s own directory)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l descriptor-set -d 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l protoset-out -d 'Write the schema in use (from the files given, server reflection or Debug.Endpoints) to FILE as a binary FileDescriptorSet, imports included' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l proto-out-dir -d 'Write the schema in use as .proto files under DIR, each at its import path (the well-known types, which protoc has built in, are left out)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -s a -l address -d 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l protocol -d 'The protocol to speak: mucp (go-micro\'s, the default), jsonrpc (Go\'s net/rpc JSON codec) or grpc (h2c); an address scheme says the same' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l timeout -d 'Per-attempt timeout, also sent to the server as the Timeout header' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l dial-timeout -d 'Timeout for opening the connection' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l service -d 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l selector -d 'How a node is picked: random (go-micro\'s default) or roundrobin (turns shared by every rmicro process on this machine)' -r -f -a "random\t''
roundrobin\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l cacert -d 'Trust the server certificates this PEM CA signed, instead of the system\'s roots' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l cert -d 'A PEM client certificate, for mutual TLS (with --key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l key -d 'The PEM private key of --cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l authority -d 'The :authority to send and the name the server\'s certificate must carry (default: the address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -s H -l header -d 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l reflect-header -d 'Metadata for reflection requests only (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l max-message-size -d 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l content-type -d 'Body encoding on the wire (default: json; protobuf for gRPC). Over mucp also go-micro\'s other codecs: json-rpc and proto-rpc (the legacy envelopes), grpc, grpc+proto and grpc+json (gRPC framing in the body), octet-stream (raw protobuf)' -r -f -a "json\t''
protobuf\t''
json-rpc\t''
proto-rpc\t''
octet-stream\t''
grpc\t''
grpc+proto\t''
grpc+json\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l rpc-header -d 'Metadata for the call only, not for reflection (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l max-time -d 'One bound on the whole call, every attempt and backoff included (exit 68 when it runs out); --timeout bounds each attempt' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l retries -d 'Extra attempts on timeouts, code 500 and connection failures (go-micro\'s default: 1); over gRPC on Unavailable and connection failures' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l retry-on -d 'gRPC status codes that are retried too, e.g. DEADLINE_EXCEEDED,RESOURCE_EXHAUSTED' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l compress -d 'Compress gRPC request messages (gzip); replies are read compressed either way' -r -f -a "gzip\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l backoff -d 'Delay between attempts: exponential (go-micro\'s formula), constant:DURATION or none' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -s o -l output -d 'pretty (indented JSON; the default on a terminal), json (one line per message), raw (the body as received) or envelope (gRPC: status, headers, trailers and messages)' -r -f -a "pretty\t''
json\t''
raw\t''
envelope\t'gRPC: one JSON object with status, headers, trailers and messages'"
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l concurrency -d 'Calls in flight at once with --batch' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l insecure -d 'Do not check the server\'s certificate (the connection is still encrypted)'
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l emit-defaults -d 'Print every field of a reply, zero values too (0, "", false, [], null)'
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -s v -l verbose -d 'Show each attempt and the reply headers on stderr'
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -l batch -d 'Read requests from stdin, one JSON document per line; print one reply line per request, in input order ({"error":{…}} for a failed one). Calls share connections'
complete -c rmicro -n "__fish_rmicro_using_subcommand call" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l proto -d 'A .proto file to compile (repeatable); imports are found through -I' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -s I -l import-path -d 'A directory to search for .proto imports (repeatable; default: each file\'s own directory)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l descriptor-set -d 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l protoset-out -d 'Write the schema in use (from the files given, server reflection or Debug.Endpoints) to FILE as a binary FileDescriptorSet, imports included' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l proto-out-dir -d 'Write the schema in use as .proto files under DIR, each at its import path (the well-known types, which protoc has built in, are left out)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -s a -l address -d 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l protocol -d 'The protocol to speak: mucp (go-micro\'s, the default), jsonrpc (Go\'s net/rpc JSON codec) or grpc (h2c); an address scheme says the same' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l timeout -d 'Per-attempt timeout, also sent to the server as the Timeout header' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l dial-timeout -d 'Timeout for opening the connection' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l service -d 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l selector -d 'How a node is picked: random (go-micro\'s default) or roundrobin (turns shared by every rmicro process on this machine)' -r -f -a "random\t''
roundrobin\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l cacert -d 'Trust the server certificates this PEM CA signed, instead of the system\'s roots' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l cert -d 'A PEM client certificate, for mutual TLS (with --key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l key -d 'The PEM private key of --cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l authority -d 'The :authority to send and the name the server\'s certificate must carry (default: the address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -s H -l header -d 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l reflect-header -d 'Metadata for reflection requests only (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l max-message-size -d 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -s o -l output -d 'table (the default) or json' -r -f -a "table\t''
json\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l insecure -d 'Do not check the server\'s certificate (the connection is still encrypted)'
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -l watch -d 'With no target: keep following the registry, printing a line for each node that registers (+) or goes away (-)'
complete -c rmicro -n "__fish_rmicro_using_subcommand list" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s d -l data -d 'Request JSON, or @FILE: one JSON document, or NDJSON whose lines are sent in turn, one per call (a stream takes its messages from them in turn)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l proto -d 'A .proto file to compile (repeatable); imports are found through -I' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s I -l import-path -d 'A directory to search for .proto imports (repeatable; default: each file\'s own directory)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l descriptor-set -d 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s a -l address -d 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l protocol -d 'The protocol to speak: mucp (go-micro\'s, the default), jsonrpc (Go\'s net/rpc JSON codec) or grpc (h2c); an address scheme says the same' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l timeout -d 'Per-attempt timeout, also sent to the server as the Timeout header' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l dial-timeout -d 'Timeout for opening the connection' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l service -d 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l selector -d 'How a node is picked: random (go-micro\'s default) or roundrobin (turns shared by every rmicro process on this machine)' -r -f -a "random\t''
roundrobin\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l cacert -d 'Trust the server certificates this PEM CA signed, instead of the system\'s roots' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l cert -d 'A PEM client certificate, for mutual TLS (with --key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l key -d 'The PEM private key of --cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l authority -d 'The :authority to send and the name the server\'s certificate must carry (default: the address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s H -l header -d 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l reflect-header -d 'Metadata for reflection requests only (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l max-message-size -d 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l content-type -d 'Body encoding on the wire (default: json; protobuf for gRPC)' -r -f -a "json\t''
protobuf\t''
json-rpc\t''
proto-rpc\t''
octet-stream\t''
grpc\t''
grpc+proto\t''
grpc+json\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l rpc-header -d 'Metadata for the calls only, not for reflection (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s n -l total -d 'Calls to make [default: 200]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s z -l duration -d 'Run for this long instead of a number of calls (calls in flight at the end finish)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s c -l concurrency -d 'Calls in flight at once [default: 50, or -n when smaller]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l connections -d 'Connections the calls are spread over (gRPC, JSON-RPC; mucp carries one call at a time on a connection, so it opens one per call in flight)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l rps -d 'Start at most this many calls per second (a constant schedule)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l rps-schedule -d 'How the rate changes: const (--rps), step (--rps-start, plus --rps-step every --step-duration, up to --rps-end) or ramp (--rps-start to --rps-end over -z)' -r -f -a "const\t''
step\t''
ramp\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l rps-start -d 'The rate a step or ramp schedule starts at' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l rps-step -d 'What each step adds to the rate (may be negative)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l rps-end -d 'The rate a step schedule stops changing at, or a ramp ends at' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l step-duration -d 'How long each step of a step schedule lasts' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l warmup -d 'Calls (N) or a time (DURATION) run first and not counted: connections and the server warmed up' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l stream-messages -d 'Request messages per streaming call (default: as many as DATA holds; one for a server stream)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l stream-interval -d 'Time between the request messages of a streaming call' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l threads -d 'Threads making the calls, each connection and its workers on one of them (default: one per core). With the server on the same machine, --threads 1 leaves it the other cores, but on 2 cores one thread made fewer calls/s than two (README)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s o -l output -d 'The report: text (for people), json (one document) or csv' -r -f -a "text\t''
json\t''
csv\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l assert -d 'A threshold, e.g. p99<20ms, mean<5ms, rps>=1000, errors=0, error_rate<0.1% (repeatable); exit 99 when one does not hold' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l insecure -d 'Do not check the server\'s certificate (the connection is still encrypted)'
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -l per-call -d 'With -o csv, one row per call; with -o json, a per_call list'
complete -c rmicro -n "__fish_rmicro_using_subcommand bench" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l proto -d 'A .proto file to compile (repeatable); imports are found through -I' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -s I -l import-path -d 'A directory to search for .proto imports (repeatable; default: each file\'s own directory)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l descriptor-set -d 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l protoset-out -d 'Write the schema in use (from the files given, server reflection or Debug.Endpoints) to FILE as a binary FileDescriptorSet, imports included' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l proto-out-dir -d 'Write the schema in use as .proto files under DIR, each at its import path (the well-known types, which protoc has built in, are left out)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -s a -l address -d 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l protocol -d 'The protocol to speak: mucp (go-micro\'s, the default), jsonrpc (Go\'s net/rpc JSON codec) or grpc (h2c); an address scheme says the same' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l timeout -d 'Per-attempt timeout, also sent to the server as the Timeout header' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l dial-timeout -d 'Timeout for opening the connection' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l service -d 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l selector -d 'How a node is picked: random (go-micro\'s default) or roundrobin (turns shared by every rmicro process on this machine)' -r -f -a "random\t''
roundrobin\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l cacert -d 'Trust the server certificates this PEM CA signed, instead of the system\'s roots' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l cert -d 'A PEM client certificate, for mutual TLS (with --key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l key -d 'The PEM private key of --cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l authority -d 'The :authority to send and the name the server\'s certificate must carry (default: the address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -s H -l header -d 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l reflect-header -d 'Metadata for reflection requests only (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l max-message-size -d 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -s o -l output -l format -d 'table (readable text, the default), json, or proto: the whole .proto file that defines SYMBOL, as source protoc compiles' -r -f -a "table\t''
json\t''
proto\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -l insecure -d 'Do not check the server\'s certificate (the connection is still encrypted)'
complete -c rmicro -n "__fish_rmicro_using_subcommand describe" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -s a -l address -d 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l protocol -d 'The protocol to speak: mucp (go-micro\'s, the default), jsonrpc (Go\'s net/rpc JSON codec) or grpc (h2c); an address scheme says the same' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l timeout -d 'Per-attempt timeout, also sent to the server as the Timeout header' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l dial-timeout -d 'Timeout for opening the connection' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l service -d 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l selector -d 'How a node is picked: random (go-micro\'s default) or roundrobin (turns shared by every rmicro process on this machine)' -r -f -a "random\t''
roundrobin\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l cacert -d 'Trust the server certificates this PEM CA signed, instead of the system\'s roots' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l cert -d 'A PEM client certificate, for mutual TLS (with --key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l key -d 'The PEM private key of --cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l authority -d 'The :authority to send and the name the server\'s certificate must carry (default: the address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -s H -l header -d 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l reflect-header -d 'Metadata for reflection requests only (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l max-message-size -d 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l wait -d 'Keep trying until the server is healthy or this much time has passed' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -s o -l output -d 'With --service: table (the default) or json' -r -f -a "table\t''
json\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -l insecure -d 'Do not check the server\'s certificate (the connection is still encrypted)'
complete -c rmicro -n "__fish_rmicro_using_subcommand health" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -s a -l address -d 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l protocol -d 'The protocol to speak: mucp (go-micro\'s, the default), jsonrpc (Go\'s net/rpc JSON codec) or grpc (h2c); an address scheme says the same' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l timeout -d 'Per-attempt timeout, also sent to the server as the Timeout header' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l dial-timeout -d 'Timeout for opening the connection' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l service -d 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l selector -d 'How a node is picked: random (go-micro\'s default) or roundrobin (turns shared by every rmicro process on this machine)' -r -f -a "random\t''
roundrobin\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l cacert -d 'Trust the server certificates this PEM CA signed, instead of the system\'s roots' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l cert -d 'A PEM client certificate, for mutual TLS (with --key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l key -d 'The PEM private key of --cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l authority -d 'The :authority to send and the name the server\'s certificate must carry (default: the address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -s H -l header -d 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l reflect-header -d 'Metadata for reflection requests only (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l max-message-size -d 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -s o -l output -d 'table (the default) or json' -r -f -a "table\t''
json\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -l insecure -d 'Do not check the server\'s certificate (the connection is still encrypted)'
complete -c rmicro -n "__fish_rmicro_using_subcommand stats" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -s a -l address -d 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l protocol -d 'The protocol to speak: mucp (go-micro\'s, the default), jsonrpc (Go\'s net/rpc JSON codec) or grpc (h2c); an address scheme says the same' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l timeout -d 'Per-attempt timeout, also sent to the server as the Timeout header' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l dial-timeout -d 'Timeout for opening the connection' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l service -d 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l selector -d 'How a node is picked: random (go-micro\'s default) or roundrobin (turns shared by every rmicro process on this machine)' -r -f -a "random\t''
roundrobin\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l cacert -d 'Trust the server certificates this PEM CA signed, instead of the system\'s roots' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l cert -d 'A PEM client certificate, for mutual TLS (with --key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l key -d 'The PEM private key of --cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l authority -d 'The :authority to send and the name the server\'s certificate must carry (default: the address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -s H -l header -d 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l reflect-header -d 'Metadata for reflection requests only (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l max-message-size -d 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -s o -l output -d 'table (the default) or json (NDJSON: one entry a line)' -r -f -a "table\t''
json\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l insecure -d 'Do not check the server\'s certificate (the connection is still encrypted)'
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -l clear -d 'Empty the journal (nothing is printed)'
complete -c rmicro -n "__fish_rmicro_using_subcommand journal" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -s a -l address -d 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l protocol -d 'The protocol to speak: mucp (go-micro\'s, the default), jsonrpc (Go\'s net/rpc JSON codec) or grpc (h2c); an address scheme says the same' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l timeout -d 'Per-attempt timeout, also sent to the server as the Timeout header' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l dial-timeout -d 'Timeout for opening the connection' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l service -d 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l selector -d 'How a node is picked: random (go-micro\'s default) or roundrobin (turns shared by every rmicro process on this machine)' -r -f -a "random\t''
roundrobin\t''"
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l registry -d 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro\'s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l cacert -d 'Trust the server certificates this PEM CA signed, instead of the system\'s roots' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l cert -d 'A PEM client certificate, for mutual TLS (with --key)' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l key -d 'The PEM private key of --cert' -r -F
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l authority -d 'The :authority to send and the name the server\'s certificate must carry (default: the address)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -s H -l header -d 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l reflect-header -d 'Metadata for reflection requests only (repeatable; @FILE as for -H)' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l max-message-size -d 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l match -d 'Only calls whose request matches this JSON object (as a rule\'s "match")' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l count -d 'Exactly N matching calls' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l at-least -d 'At least N matching calls [default: 1]' -r
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -l insecure -d 'Do not check the server\'s certificate (the connection is still encrypted)'
complete -c rmicro -n "__fish_rmicro_using_subcommand verify" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand completions" -s h -l help -d 'Print help'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "serve" -d 'Serve the services of a schema, answered by the rules of a handlers file'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "call" -d 'Call one endpoint and print the reply as JSON'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "list" -d 'List a server\'s endpoints (or a local schema\'s)'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "bench" -d 'Load-test an endpoint: calls in flight, a rate, a report with latency percentiles, thresholds for CI'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "describe" -d 'Show the request and response layouts of an endpoint or message'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "health" -d 'Check a server\'s Debug.Health, optionally waiting until it answers'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "stats" -d 'Show a server\'s request statistics (Debug.Stats)'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "journal" -d 'Show the calls a `rmicro serve` received (its request journal), or clear them'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "verify" -d 'Check that a `rmicro serve` received the calls expected: exit 0 if so, 1 if not'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c rmicro -n "__fish_rmicro_using_subcommand help; and not __fish_seen_subcommand_from serve call list bench describe health stats journal verify completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
