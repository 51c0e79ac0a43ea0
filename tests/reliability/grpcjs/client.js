// A grpc-js client (Node's own HTTP/2, nghttp2) for tests/reliability/test_grpc_interop.py.
// Usage: node client.js HOST:PORT < calls.json; each call {path, request (hex), gzip, count}
// prints one JSON line per call: {ok, code, details, answers (hex)}. No proto files: the
// requests are serialised by the Python side.
"use strict";
const grpc = require("@grpc/grpc-js");

const identity = (buffer) => buffer;

function call(client, spec) {
  return new Promise((resolve) => {
    const options = {deadline: Date.now() + 30000};
    client.makeUnaryRequest(spec.path, identity, identity, Buffer.from(spec.request, "hex"),
      new grpc.Metadata(), options, (error, answer) => {
        if (error) {
          resolve({ok: false, code: error.code, details: error.details});
        } else {
          resolve({ok: true, code: 0, answer: answer.toString("hex")});
        }
      });
  });
}

async function main() {
  const input = require("fs").readFileSync(0, "utf8");
  const calls = JSON.parse(input);
  for (const spec of calls) {
    const client = new grpc.Client(process.argv[2], grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      "grpc.default_compression_algorithm": spec.gzip ? 2 : 0,
    });
    const results = await Promise.all(Array.from({length: spec.count || 1},
                                                 () => call(client, spec)));
    console.log(JSON.stringify({
      ok: results.every((result) => result.ok),
      codes: results.map((result) => result.code),
      details: results.map((result) => result.details || ""),
      answers: [...new Set(results.map((result) => result.answer || ""))],
    }));
    client.close();
  }
}

main().catch((error) => { console.error(error); process.exit(1); });
