
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'rmicro' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'rmicro'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'rmicro' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the services of a schema, answered by the rules of a handlers file')
            [CompletionResult]::new('call', 'call', [CompletionResultType]::ParameterValue, 'Call one endpoint and print the reply as JSON')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List a server''s endpoints (or a local schema''s)')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'Load-test an endpoint: calls in flight, a rate, a report with latency percentiles, thresholds for CI')
            [CompletionResult]::new('describe', 'describe', [CompletionResultType]::ParameterValue, 'Show the request and response layouts of an endpoint or message')
            [CompletionResult]::new('health', 'health', [CompletionResultType]::ParameterValue, 'Check a server''s Debug.Health, optionally waiting until it answers')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Show a server''s request statistics (Debug.Stats)')
            [CompletionResult]::new('journal', 'journal', [CompletionResultType]::ParameterValue, 'Show the calls a `rmicro serve` received (its request journal), or clear them')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a `rmicro serve` received the calls expected: exit 0 if so, 1 if not')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rmicro;serve' {
            [CompletionResult]::new('--proto', '--proto', [CompletionResultType]::ParameterName, 'A .proto file to compile (repeatable); imports are found through -I')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--import-path', '--import-path', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--descriptor-set', '--descriptor-set', [CompletionResultType]::ParameterName, 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)')
            [CompletionResult]::new('--handlers', '--handlers', [CompletionResultType]::ParameterName, 'Handlers file: JSON rules per endpoint (reply, match, error, delay, sequence, exec). Watched while serving (and re-read on SIGHUP): a valid new file takes over')
            [CompletionResult]::new('--journal-size', '--journal-size', [CompletionResultType]::ParameterName, 'Calls the request journal keeps (Debug.Requests, `rmicro journal`), the oldest dropped first (also past 64 MiB of requests held); 0 keeps none')
            [CompletionResult]::new('--journal', '--journal', [CompletionResultType]::ParameterName, 'Also append every journal entry to FILE as NDJSON')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Threads serving connections, each connection served on one of them for its life (default: one per core)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Address to listen on: HOST:PORT (port 0 picks a free port), or a unix socket, unix:///PATH (removed when the server stops)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Address to listen on: HOST:PORT (port 0 picks a free port), or a unix socket, unix:///PATH (removed when the server stops)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Service name (default: the schema''s package)')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Service version, as published in the service record')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest request body accepted (e.g. 4MiB), and the most an exec handler may print (its reply, or one line of a stream)')
            [CompletionResult]::new('--decode-budget', '--decode-budget', [CompletionResultType]::ParameterName, 'Memory that decoded requests may hold at once, all connections together. A request that decodes to far more than its size (a long packed repeated field: 56 bytes per element) holds its share while it is handled; others wait for theirs within their deadline, and one that needs more than all of it gets ResourceExhausted')
            [CompletionResult]::new('--exec-concurrency', '--exec-concurrency', [CompletionResultType]::ParameterName, 'Exec handler processes running at once, all endpoints together; later calls queue within their deadline [default: 4 per core]')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'How long in-flight requests may take to finish after SIGINT/SIGTERM')
            [CompletionResult]::new('--header-timeout', '--header-timeout', [CompletionResultType]::ParameterName, 'How long a client may take to send a request''s head, from its first byte; a new connection''s TLS handshake and first bytes count too. A head too slow gets 408 and the connection is closed (0 = no limit)')
            [CompletionResult]::new('--body-timeout', '--body-timeout', [CompletionResultType]::ParameterName, 'How long a client may take to send a request''s body once its head is in (for JSON-RPC, a whole request from its first byte); too slow gets 408 (0 = no limit)')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'How long a kept-alive HTTP/1.1 or JSON-RPC connection may wait with no request in progress before it is closed (0 = no limit)')
            [CompletionResult]::new('--write-timeout', '--write-timeout', [CompletionResultType]::ParameterName, 'How long a streamed HTTP/1.1 reply (Connect, gRPC-Web) may wait on a client that takes none of it before the call and the connection end (0 = no limit)')
            [CompletionResult]::new('--keepalive-time', '--keepalive-time', [CompletionResultType]::ParameterName, 'How long an HTTP/2 (gRPC, Connect) connection may be silent before it is pinged (0 = never)')
            [CompletionResult]::new('--keepalive-timeout', '--keepalive-timeout', [CompletionResultType]::ParameterName, 'How long a pinged HTTP/2 peer may take to answer before its connection is closed')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--metadata', '--metadata', [CompletionResultType]::ParameterName, 'Node metadata published in the registry (repeatable)')
            [CompletionResult]::new('--advertise', '--advertise', [CompletionResultType]::ParameterName, 'The address published in the registry (default: the bound one; for 0.0.0.0, this host''s outgoing address)')
            [CompletionResult]::new('--register-ttl', '--register-ttl', [CompletionResultType]::ParameterName, 'How long the registry keeps the record without a heartbeat (re-registered every third of it)')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Serve every protocol over TLS with this PEM certificate chain (needs --tls-key)')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'The PEM private key of --tls-cert')
            [CompletionResult]::new('--cors-origin', '--cors-origin', [CompletionResultType]::ParameterName, 'Let browser pages from this origin call over Connect and gRPC-Web: CORS preflights are answered, and replies expose the status headers (repeatable; `scheme://host[:port]`, or `*` for any origin)')
            [CompletionResult]::new('--client-ca', '--client-ca', [CompletionResultType]::ParameterName, 'Require client certificates signed by this PEM CA (mutual TLS)')
            [CompletionResult]::new('--proxy', '--proxy', [CompletionResultType]::ParameterName, 'Pass every endpoint without a rule of its own on to this server: grpc://, grpcs://, jsonrpc://, mucp://HOST:PORT, HOST:PORT (mucp) or service:NAME (its nodes from the registry). Without a schema flag, the schema is the upstream''s (reflection, or its Debug.Endpoints)')
            [CompletionResult]::new('--proxy-timeout', '--proxy-timeout', [CompletionResultType]::ParameterName, 'Each attempt of a proxied unary call, and the opening of a proxied stream, unless the caller''s deadline comes sooner (an open stream lasts until its caller''s deadline)')
            [CompletionResult]::new('--proxy-dial-timeout', '--proxy-dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening a connection to the upstream')
            [CompletionResult]::new('--proxy-retries', '--proxy-retries', [CompletionResultType]::ParameterName, 'Extra attempts of a proxied call, on what `rmicro call --retries` retries')
            [CompletionResult]::new('--proxy-refresh', '--proxy-refresh', [CompletionResultType]::ParameterName, 'How often a service:NAME upstream''s nodes are read again from the registry (at the next call, which goes on to the nodes read before), so that nodes that come are used and nodes that go are dropped')
            [CompletionResult]::new('--proxy-cacert', '--proxy-cacert', [CompletionResultType]::ParameterName, 'Trust the upstream certificates this PEM CA signed (gRPC over TLS)')
            [CompletionResult]::new('--proxy-cert', '--proxy-cert', [CompletionResultType]::ParameterName, 'A PEM client certificate for the upstream (with --proxy-key)')
            [CompletionResult]::new('--proxy-key', '--proxy-key', [CompletionResultType]::ParameterName, 'The PEM private key of --proxy-cert')
            [CompletionResult]::new('--proxy-authority', '--proxy-authority', [CompletionResultType]::ParameterName, 'The :authority sent upstream and the name its certificate must carry')
            [CompletionResult]::new('--record', '--record', [CompletionResultType]::ParameterName, 'Record every proxied exchange into FILE as a handlers file (added to what FILE holds; written on SIGHUP and at shutdown). `serve --handlers FILE` replays it')
            [CompletionResult]::new('--record-redact', '--record-redact', [CompletionResultType]::ParameterName, 'A reply header or trailer kept out of the recording (repeatable); authorization is always kept out')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Answer endpoints without a handler with Unimplemented instead of an empty reply')
            [CompletionResult]::new('--allow-empty', '--allow-empty', [CompletionResultType]::ParameterName, 'Start even with no service to serve (no schema, or one without services): only the built-in Debug service answers')
            [CompletionResult]::new('--no-register', '--no-register', [CompletionResultType]::ParameterName, 'Do not register in any registry')
            [CompletionResult]::new('--proxy-insecure', '--proxy-insecure', [CompletionResultType]::ParameterName, 'Do not check the upstream''s certificate')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;call' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Request JSON, @FILE to read a file, or @- to read stdin')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Request JSON, @FILE to read a file, or @- to read stdin')
            [CompletionResult]::new('--proto', '--proto', [CompletionResultType]::ParameterName, 'A .proto file to compile (repeatable); imports are found through -I')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--import-path', '--import-path', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--descriptor-set', '--descriptor-set', [CompletionResultType]::ParameterName, 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)')
            [CompletionResult]::new('--protoset-out', '--protoset-out', [CompletionResultType]::ParameterName, 'Write the schema in use (from the files given, server reflection or Debug.Endpoints) to FILE as a binary FileDescriptorSet, imports included')
            [CompletionResult]::new('--proto-out-dir', '--proto-out-dir', [CompletionResultType]::ParameterName, 'Write the schema in use as .proto files under DIR, each at its import path (the well-known types, which protoc has built in, are left out)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'The protocol to speak: mucp (go-micro''s, the default), jsonrpc (Go''s net/rpc JSON codec) or grpc (h2c); an address scheme says the same')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-attempt timeout, also sent to the server as the Timeout header')
            [CompletionResult]::new('--dial-timeout', '--dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening the connection')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'How a node is picked: random (go-micro''s default) or roundrobin (turns shared by every rmicro process on this machine)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the server certificates this PEM CA signed, instead of the system''s roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A PEM client certificate, for mutual TLS (with --key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The PEM private key of --cert')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority to send and the name the server''s certificate must carry (default: the address)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--reflect-header', '--reflect-header', [CompletionResultType]::ParameterName, 'Metadata for reflection requests only (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own')
            [CompletionResult]::new('--content-type', '--content-type', [CompletionResultType]::ParameterName, 'Body encoding on the wire (default: json; protobuf for gRPC). Over mucp also go-micro''s other codecs: json-rpc and proto-rpc (the legacy envelopes), grpc, grpc+proto and grpc+json (gRPC framing in the body), octet-stream (raw protobuf)')
            [CompletionResult]::new('--rpc-header', '--rpc-header', [CompletionResultType]::ParameterName, 'Metadata for the call only, not for reflection (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'One bound on the whole call, every attempt and backoff included (exit 68 when it runs out); --timeout bounds each attempt')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Extra attempts on timeouts, code 500 and connection failures (go-micro''s default: 1); over gRPC on Unavailable and connection failures')
            [CompletionResult]::new('--retry-on', '--retry-on', [CompletionResultType]::ParameterName, 'gRPC status codes that are retried too, e.g. DEADLINE_EXCEEDED,RESOURCE_EXHAUSTED')
            [CompletionResult]::new('--compress', '--compress', [CompletionResultType]::ParameterName, 'Compress gRPC request messages (gzip); replies are read compressed either way')
            [CompletionResult]::new('--backoff', '--backoff', [CompletionResultType]::ParameterName, 'Delay between attempts: exponential (go-micro''s formula), constant:DURATION or none')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'pretty (indented JSON; the default on a terminal), json (one line per message), raw (the body as received) or envelope (gRPC: status, headers, trailers and messages)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'pretty (indented JSON; the default on a terminal), json (one line per message), raw (the body as received) or envelope (gRPC: status, headers, trailers and messages)')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Calls in flight at once with --batch')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server''s certificate (the connection is still encrypted)')
            [CompletionResult]::new('--emit-defaults', '--emit-defaults', [CompletionResultType]::ParameterName, 'Print every field of a reply, zero values too (0, "", false, [], null)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show each attempt and the reply headers on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show each attempt and the reply headers on stderr')
            [CompletionResult]::new('--batch', '--batch', [CompletionResultType]::ParameterName, 'Read requests from stdin, one JSON document per line; print one reply line per request, in input order ({"error":{…}} for a failed one). Calls share connections')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'rmicro;list' {
            [CompletionResult]::new('--proto', '--proto', [CompletionResultType]::ParameterName, 'A .proto file to compile (repeatable); imports are found through -I')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--import-path', '--import-path', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--descriptor-set', '--descriptor-set', [CompletionResultType]::ParameterName, 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)')
            [CompletionResult]::new('--protoset-out', '--protoset-out', [CompletionResultType]::ParameterName, 'Write the schema in use (from the files given, server reflection or Debug.Endpoints) to FILE as a binary FileDescriptorSet, imports included')
            [CompletionResult]::new('--proto-out-dir', '--proto-out-dir', [CompletionResultType]::ParameterName, 'Write the schema in use as .proto files under DIR, each at its import path (the well-known types, which protoc has built in, are left out)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'The protocol to speak: mucp (go-micro''s, the default), jsonrpc (Go''s net/rpc JSON codec) or grpc (h2c); an address scheme says the same')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-attempt timeout, also sent to the server as the Timeout header')
            [CompletionResult]::new('--dial-timeout', '--dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening the connection')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'How a node is picked: random (go-micro''s default) or roundrobin (turns shared by every rmicro process on this machine)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the server certificates this PEM CA signed, instead of the system''s roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A PEM client certificate, for mutual TLS (with --key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The PEM private key of --cert')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority to send and the name the server''s certificate must carry (default: the address)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--reflect-header', '--reflect-header', [CompletionResultType]::ParameterName, 'Metadata for reflection requests only (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'table (the default) or json')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'table (the default) or json')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server''s certificate (the connection is still encrypted)')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'With no target: keep following the registry, printing a line for each node that registers (+) or goes away (-)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;bench' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Request JSON, or @FILE: one JSON document, or NDJSON whose lines are sent in turn, one per call (a stream takes its messages from them in turn)')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Request JSON, or @FILE: one JSON document, or NDJSON whose lines are sent in turn, one per call (a stream takes its messages from them in turn)')
            [CompletionResult]::new('--proto', '--proto', [CompletionResultType]::ParameterName, 'A .proto file to compile (repeatable); imports are found through -I')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--import-path', '--import-path', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--descriptor-set', '--descriptor-set', [CompletionResultType]::ParameterName, 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'The protocol to speak: mucp (go-micro''s, the default), jsonrpc (Go''s net/rpc JSON codec) or grpc (h2c); an address scheme says the same')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-attempt timeout, also sent to the server as the Timeout header')
            [CompletionResult]::new('--dial-timeout', '--dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening the connection')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'How a node is picked: random (go-micro''s default) or roundrobin (turns shared by every rmicro process on this machine)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the server certificates this PEM CA signed, instead of the system''s roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A PEM client certificate, for mutual TLS (with --key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The PEM private key of --cert')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority to send and the name the server''s certificate must carry (default: the address)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--reflect-header', '--reflect-header', [CompletionResultType]::ParameterName, 'Metadata for reflection requests only (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own')
            [CompletionResult]::new('--content-type', '--content-type', [CompletionResultType]::ParameterName, 'Body encoding on the wire (default: json; protobuf for gRPC)')
            [CompletionResult]::new('--rpc-header', '--rpc-header', [CompletionResultType]::ParameterName, 'Metadata for the calls only, not for reflection (repeatable; @FILE as for -H)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Calls to make [default: 200]')
            [CompletionResult]::new('--total', '--total', [CompletionResultType]::ParameterName, 'Calls to make [default: 200]')
            [CompletionResult]::new('-z', '-z', [CompletionResultType]::ParameterName, 'Run for this long instead of a number of calls (calls in flight at the end finish)')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Run for this long instead of a number of calls (calls in flight at the end finish)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Calls in flight at once [default: 50, or -n when smaller]')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Calls in flight at once [default: 50, or -n when smaller]')
            [CompletionResult]::new('--connections', '--connections', [CompletionResultType]::ParameterName, 'Connections the calls are spread over (gRPC, JSON-RPC; mucp carries one call at a time on a connection, so it opens one per call in flight)')
            [CompletionResult]::new('--rps', '--rps', [CompletionResultType]::ParameterName, 'Start at most this many calls per second (a constant schedule)')
            [CompletionResult]::new('--rps-schedule', '--rps-schedule', [CompletionResultType]::ParameterName, 'How the rate changes: const (--rps), step (--rps-start, plus --rps-step every --step-duration, up to --rps-end) or ramp (--rps-start to --rps-end over -z)')
            [CompletionResult]::new('--rps-start', '--rps-start', [CompletionResultType]::ParameterName, 'The rate a step or ramp schedule starts at')
            [CompletionResult]::new('--rps-step', '--rps-step', [CompletionResultType]::ParameterName, 'What each step adds to the rate (may be negative)')
            [CompletionResult]::new('--rps-end', '--rps-end', [CompletionResultType]::ParameterName, 'The rate a step schedule stops changing at, or a ramp ends at')
            [CompletionResult]::new('--step-duration', '--step-duration', [CompletionResultType]::ParameterName, 'How long each step of a step schedule lasts')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Calls (N) or a time (DURATION) run first and not counted: connections and the server warmed up')
            [CompletionResult]::new('--stream-messages', '--stream-messages', [CompletionResultType]::ParameterName, 'Request messages per streaming call (default: as many as DATA holds; one for a server stream)')
            [CompletionResult]::new('--stream-interval', '--stream-interval', [CompletionResultType]::ParameterName, 'Time between the request messages of a streaming call')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Threads making the calls, each connection and its workers on one of them (default: one per core). With the server on the same machine, --threads 1 leaves it the other cores, but on 2 cores one thread made fewer calls/s than two (README)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'The report: text (for people), json (one document) or csv')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'The report: text (for people), json (one document) or csv')
            [CompletionResult]::new('--assert', '--assert', [CompletionResultType]::ParameterName, 'A threshold, e.g. p99<20ms, mean<5ms, rps>=1000, errors=0, error_rate<0.1% (repeatable); exit 99 when one does not hold')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server''s certificate (the connection is still encrypted)')
            [CompletionResult]::new('--per-call', '--per-call', [CompletionResultType]::ParameterName, 'With -o csv, one row per call; with -o json, a per_call list')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;describe' {
            [CompletionResult]::new('--proto', '--proto', [CompletionResultType]::ParameterName, 'A .proto file to compile (repeatable); imports are found through -I')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--import-path', '--import-path', [CompletionResultType]::ParameterName, 'A directory to search for .proto imports (repeatable; default: each file''s own directory)')
            [CompletionResult]::new('--descriptor-set', '--descriptor-set', [CompletionResultType]::ParameterName, 'A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build)')
            [CompletionResult]::new('--protoset-out', '--protoset-out', [CompletionResultType]::ParameterName, 'Write the schema in use (from the files given, server reflection or Debug.Endpoints) to FILE as a binary FileDescriptorSet, imports included')
            [CompletionResult]::new('--proto-out-dir', '--proto-out-dir', [CompletionResultType]::ParameterName, 'Write the schema in use as .proto files under DIR, each at its import path (the well-known types, which protoc has built in, are left out)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'The protocol to speak: mucp (go-micro''s, the default), jsonrpc (Go''s net/rpc JSON codec) or grpc (h2c); an address scheme says the same')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-attempt timeout, also sent to the server as the Timeout header')
            [CompletionResult]::new('--dial-timeout', '--dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening the connection')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'How a node is picked: random (go-micro''s default) or roundrobin (turns shared by every rmicro process on this machine)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the server certificates this PEM CA signed, instead of the system''s roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A PEM client certificate, for mutual TLS (with --key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The PEM private key of --cert')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority to send and the name the server''s certificate must carry (default: the address)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--reflect-header', '--reflect-header', [CompletionResultType]::ParameterName, 'Metadata for reflection requests only (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'table (readable text, the default), json, or proto: the whole .proto file that defines SYMBOL, as source protoc compiles')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'table (readable text, the default), json, or proto: the whole .proto file that defines SYMBOL, as source protoc compiles')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'table (readable text, the default), json, or proto: the whole .proto file that defines SYMBOL, as source protoc compiles')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server''s certificate (the connection is still encrypted)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;health' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'The protocol to speak: mucp (go-micro''s, the default), jsonrpc (Go''s net/rpc JSON codec) or grpc (h2c); an address scheme says the same')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-attempt timeout, also sent to the server as the Timeout header')
            [CompletionResult]::new('--dial-timeout', '--dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening the connection')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'How a node is picked: random (go-micro''s default) or roundrobin (turns shared by every rmicro process on this machine)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the server certificates this PEM CA signed, instead of the system''s roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A PEM client certificate, for mutual TLS (with --key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The PEM private key of --cert')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority to send and the name the server''s certificate must carry (default: the address)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--reflect-header', '--reflect-header', [CompletionResultType]::ParameterName, 'Metadata for reflection requests only (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Keep trying until the server is healthy or this much time has passed')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'With --service: table (the default) or json')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'With --service: table (the default) or json')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server''s certificate (the connection is still encrypted)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;stats' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'The protocol to speak: mucp (go-micro''s, the default), jsonrpc (Go''s net/rpc JSON codec) or grpc (h2c); an address scheme says the same')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-attempt timeout, also sent to the server as the Timeout header')
            [CompletionResult]::new('--dial-timeout', '--dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening the connection')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'How a node is picked: random (go-micro''s default) or roundrobin (turns shared by every rmicro process on this machine)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the server certificates this PEM CA signed, instead of the system''s roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A PEM client certificate, for mutual TLS (with --key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The PEM private key of --cert')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority to send and the name the server''s certificate must carry (default: the address)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--reflect-header', '--reflect-header', [CompletionResultType]::ParameterName, 'Metadata for reflection requests only (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'table (the default) or json')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'table (the default) or json')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server''s certificate (the connection is still encrypted)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;journal' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'The protocol to speak: mucp (go-micro''s, the default), jsonrpc (Go''s net/rpc JSON codec) or grpc (h2c); an address scheme says the same')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-attempt timeout, also sent to the server as the Timeout header')
            [CompletionResult]::new('--dial-timeout', '--dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening the connection')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'How a node is picked: random (go-micro''s default) or roundrobin (turns shared by every rmicro process on this machine)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the server certificates this PEM CA signed, instead of the system''s roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A PEM client certificate, for mutual TLS (with --key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The PEM private key of --cert')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority to send and the name the server''s certificate must carry (default: the address)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--reflect-header', '--reflect-header', [CompletionResultType]::ParameterName, 'Metadata for reflection requests only (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'table (the default) or json (NDJSON: one entry a line)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'table (the default) or json (NDJSON: one entry a line)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server''s certificate (the connection is still encrypted)')
            [CompletionResult]::new('--clear', '--clear', [CompletionResultType]::ParameterName, 'Empty the journal (nothing is printed)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;verify' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'The protocol to speak: mucp (go-micro''s, the default), jsonrpc (Go''s net/rpc JSON codec) or grpc (h2c); an address scheme says the same')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Per-attempt timeout, also sent to the server as the Timeout header')
            [CompletionResult]::new('--dial-timeout', '--dial-timeout', [CompletionResultType]::ParameterName, 'Timeout for opening the connection')
            [CompletionResult]::new('--service', '--service', [CompletionResultType]::ParameterName, 'Call a service by name: its nodes come from the registry [env: MICRO_PROXY]')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'How a node is picked: random (go-micro''s default) or roundrobin (turns shared by every rmicro process on this machine)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro''s MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too]')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'Trust the server certificates this PEM CA signed, instead of the system''s roots')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'A PEM client certificate, for mutual TLS (with --key)')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'The PEM private key of --cert')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority to send and the name the server''s certificate must carry (default: the address)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads `Name: value` lines from a file, so secrets stay off the command line')
            [CompletionResult]::new('--reflect-header', '--reflect-header', [CompletionResultType]::ParameterName, 'Metadata for reflection requests only (repeatable; @FILE as for -H)')
            [CompletionResult]::new('--max-message-size', '--max-message-size', [CompletionResultType]::ParameterName, 'Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried. The default takes what go-micro servers send: they have no limit of their own')
            [CompletionResult]::new('--match', '--match', [CompletionResultType]::ParameterName, 'Only calls whose request matches this JSON object (as a rule''s "match")')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exactly N matching calls')
            [CompletionResult]::new('--at-least', '--at-least', [CompletionResultType]::ParameterName, 'At least N matching calls [default: 1]')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server''s certificate (the connection is still encrypted)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'rmicro;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the services of a schema, answered by the rules of a handlers file')
            [CompletionResult]::new('call', 'call', [CompletionResultType]::ParameterValue, 'Call one endpoint and print the reply as JSON')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List a server''s endpoints (or a local schema''s)')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'Load-test an endpoint: calls in flight, a rate, a report with latency percentiles, thresholds for CI')
            [CompletionResult]::new('describe', 'describe', [CompletionResultType]::ParameterValue, 'Show the request and response layouts of an endpoint or message')
            [CompletionResult]::new('health', 'health', [CompletionResultType]::ParameterValue, 'Check a server''s Debug.Health, optionally waiting until it answers')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Show a server''s request statistics (Debug.Stats)')
            [CompletionResult]::new('journal', 'journal', [CompletionResultType]::ParameterValue, 'Show the calls a `rmicro serve` received (its request journal), or clear them')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a `rmicro serve` received the calls expected: exit 0 if so, 1 if not')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'rmicro;help;serve' {
            break
        }
        'rmicro;help;call' {
            break
        }
        'rmicro;help;list' {
            break
        }
        'rmicro;help;bench' {
            break
        }
        'rmicro;help;describe' {
            break
        }
        'rmicro;help;health' {
            break
        }
        'rmicro;help;stats' {
            break
        }
        'rmicro;help;journal' {
            break
        }
        'rmicro;help;verify' {
            break
        }
        'rmicro;help;completions' {
            break
        }
        'rmicro;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
