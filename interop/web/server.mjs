// A Connect server that rmicro did not write: @connectrpc/connect-node on Node's HTTP/2
// server (h2c), serving web.v1.Web in the Connect, gRPC and gRPC-Web protocols, and the
// same handler on Node's HTTP/1.1 server on a second port.
// Usage: node server.mjs DESCRIPTOR_SET.pb — prints
// "listening on 127.0.0.1:PORT http1 127.0.0.1:PORT".
import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { webService } from "./descriptor.mjs";

const service = webService(readFileSync(process.argv[2]));
const handler = connectNodeAdapter({
  routes(router) {
    router.service(service, {
      say(request, context) {
        // A header and a trailer on every answer, as the proxy tests check them.
        context.responseHeader.set("x-node", "say");
        context.responseTrailer.set("x-served-by", "connect-node");
        if (request.text === "missing") throw new ConnectError("no such thing", Code.NotFound);
        return { text: `node: ${request.text}` };
      },
      look(request) {
        return { text: `node looked: ${request.text}` };
      },
      async *count(request, context) {
        context.responseTrailer.set("x-served-by", "connect-node");
        for (let index = 0; index < request.count; index++) {
          yield { text: `${request.text}${index}`, index };
        }
      },
      async collect(requests) {
        const texts = [];
        for await (const request of requests) texts.push(request.text);
        return { text: texts.join(","), index: texts.length };
      },
      async *chat(requests) {
        let index = 0;
        for await (const request of requests) {
          if (request.text === "fail") throw new ConnectError("failing as asked", Code.Aborted);
          yield { text: `node echo: ${request.text}`, index: index++ };
        }
      },
    });
  },
});
const server = http2.createServer(handler);
const http1 = http.createServer(handler);
server.listen(0, "127.0.0.1", () => {
  http1.listen(0, "127.0.0.1", () => {
    console.log(
      `listening on 127.0.0.1:${server.address().port} http1 127.0.0.1:${http1.address().port}`,
    );
  });
});
process.on("SIGTERM", () => process.exit(0));
