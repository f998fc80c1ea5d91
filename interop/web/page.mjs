// The browser page's script (bundled by esbuild): calls rmicro serve at window.TARGET from
// this page's own origin with @connectrpc/connect-web, over Connect and over gRPC-Web, a
// unary call, an error and a server stream each, and shows the replies as JSON in
// <pre id="out">, its data-done set once every call has ended.
import { createClient, ConnectError } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { webService } from "./descriptor.mjs";

function bytesOf(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function run() {
  const service = webService(bytesOf(window.DESCRIPTOR));
  const transports = {
    connect: createConnectTransport({ baseUrl: window.TARGET }),
    "connect-get": createConnectTransport({ baseUrl: window.TARGET, useHttpGet: true }),
    grpcweb: createGrpcWebTransport({ baseUrl: window.TARGET }),
  };
  const results = { origin: location.origin };
  for (const [name, transport] of Object.entries(transports)) {
    const client = createClient(service, transport);
    const result = {};
    try {
      result.say = (await client.say({ text: "hi" })).text;
      result.look = (await client.look({ text: "hi" })).text;
      try {
        await client.say({ text: "missing" });
        result.error = "no error";
      } catch (error) {
        const e = ConnectError.from(error);
        result.error = { code: e.code, message: e.rawMessage };
      }
      result.count = [];
      for await (const reply of client.count({ count: 3 })) {
        result.count.push({ text: reply.text, index: reply.index });
      }
    } catch (error) {
      result.failed = String(error);
    }
    results[name] = result;
  }
  const out = document.getElementById("out");
  out.textContent = JSON.stringify(results);
  out.dataset.done = "true";
}

run();
