// A real gRPC-Web client against rookery-grpc: @connectrpc/connect-web's gRPC-Web transport on
// Node's fetch, calling the interop grpc.testing.TestService of a server on 127.0.0.1:PORT.
//
//   node run.mjs --port PORT [--origin ORIGIN]
//
// Runs each case in binary mode (application/grpc-web+proto, connect-web as it is) and in text
// mode (application/grpc-web-text: connect-web's bytes base64-encoded on the way out and decoded
// as they stream in, by a wrapper around fetch), printing "ok MODE CASE" or "fail MODE CASE:
// why" per case; exits 1 if any failed. The schema is a hand-written subset of the public
// grpc.testing protos (messages.proto, empty.proto, test.proto), with the same names and field
// numbers, built at run time by @bufbuild/protobuf.

import { create } from "@bufbuild/protobuf";
import { createFileRegistry } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";

function args() {
  const out = { port: undefined, origin: "http://rookery.test" };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--port") out.port = Number(argv[++i]);
    else if (argv[i] === "--origin") out.origin = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(out.port)) throw new Error("usage: node run.mjs --port PORT [--origin ORIGIN]");
  return out;
}

// --- the schema ------------------------------------------------------------------------------

const field = (name, number, type, extra = {}) => ({
  name,
  number,
  type,
  label: Label.OPTIONAL,
  ...extra,
});
const message = (name, ...fields) => ({ name, field: fields });
const ref = (name) => ({ typeName: `.grpc.testing.${name}` });

const file = create(FileDescriptorProtoSchema, {
  name: "rookery/web_test/grpc_testing_subset.proto",
  package: "grpc.testing",
  syntax: "proto3",
  enumType: [{ name: "PayloadType", value: [{ name: "COMPRESSABLE", number: 0 }] }],
  messageType: [
    message("Empty"),
    message(
      "Payload",
      field("type", 1, Type.ENUM, ref("PayloadType")),
      field("body", 2, Type.BYTES),
    ),
    message("EchoStatus", field("code", 1, Type.INT32), field("message", 2, Type.STRING)),
    message(
      "SimpleRequest",
      field("response_size", 2, Type.INT32),
      field("payload", 3, Type.MESSAGE, ref("Payload")),
      field("response_status", 7, Type.MESSAGE, ref("EchoStatus")),
    ),
    message("SimpleResponse", field("payload", 1, Type.MESSAGE, ref("Payload"))),
    message("ResponseParameters", field("size", 1, Type.INT32), field("interval_us", 2, Type.INT32)),
    message(
      "StreamingOutputCallRequest",
      field("response_parameters", 2, Type.MESSAGE, { ...ref("ResponseParameters"), label: Label.REPEATED }),
      field("response_status", 7, Type.MESSAGE, ref("EchoStatus")),
    ),
    message("StreamingOutputCallResponse", field("payload", 1, Type.MESSAGE, ref("Payload"))),
  ],
  service: [
    {
      name: "TestService",
      method: [
        { name: "EmptyCall", inputType: ".grpc.testing.Empty", outputType: ".grpc.testing.Empty" },
        {
          name: "UnaryCall",
          inputType: ".grpc.testing.SimpleRequest",
          outputType: ".grpc.testing.SimpleResponse",
        },
        {
          name: "StreamingOutputCall",
          inputType: ".grpc.testing.StreamingOutputCallRequest",
          outputType: ".grpc.testing.StreamingOutputCallResponse",
          serverStreaming: true,
        },
        {
          name: "StreamingInputCall",
          inputType: ".grpc.testing.Empty",
          outputType: ".grpc.testing.Empty",
          clientStreaming: true,
        },
        { name: "UnimplementedCall", inputType: ".grpc.testing.Empty", outputType: ".grpc.testing.Empty" },
      ],
    },
  ],
});
const TestService = createFileRegistry(file, () => undefined).getService("grpc.testing.TestService");

// --- gRPC-Web text on the wire ---------------------------------------------------------------

/** Decodes base64 as it streams in: whole quanta as they come, a padded quantum ending a run. */
function base64Decoder() {
  let carry = "";
  const decode = (text) => {
    const parts = [];
    let start = 0;
    for (let i = 0; i + 4 <= text.length; i += 4) {
      if (text[i + 3] === "=") {
        parts.push(Buffer.from(text.slice(start, i + 4), "base64"));
        start = i + 4;
      }
    }
    parts.push(Buffer.from(text.slice(start), "base64"));
    return new Uint8Array(Buffer.concat(parts));
  };
  return new TransformStream({
    transform(chunk, controller) {
      carry += Buffer.from(chunk).toString("latin1");
      if (/[^A-Za-z0-9+/=]/.test(carry)) {
        controller.error(new Error(`not base64: ${JSON.stringify(carry.slice(0, 40))}`));
        return;
      }
      const whole = carry.length - (carry.length % 4);
      const out = decode(carry.slice(0, whole));
      carry = carry.slice(whole);
      if (out.length > 0) controller.enqueue(out);
    },
    flush(controller) {
      if (carry.length > 0) controller.enqueue(decode(carry));
    },
  });
}

/** fetch for gRPC-Web text: the request body base64, the response decoded as it comes. */
function textFetch(inner) {
  return async (url, init) => {
    const headers = new Headers(init.headers);
    headers.set("content-type", "application/grpc-web-text");
    headers.set("accept", "application/grpc-web-text");
    const body = Buffer.from(init.body).toString("base64");
    const response = await inner(url, { ...init, headers, body });
    const contentType = response.headers.get("content-type") ?? "";
    if (!contentType.startsWith("application/grpc-web-text")) {
      if (response.ok) throw new Error(`a text request answered ${contentType}`);
      // An HTTP error: let connect-web say what it is.
      return response;
    }
    const out = new Headers(response.headers);
    out.set("content-type", "application/grpc-web+proto");
    return new Response(response.body?.pipeThrough(base64Decoder()) ?? null, {
      status: response.status,
      statusText: response.statusText,
      headers: out,
    });
  };
}

/** fetch that sends Origin, as a browser does, and checks that CORS lets the page read. */
function corsFetch(origin, seen) {
  return async (url, init) => {
    const headers = new Headers(init.headers);
    headers.set("origin", origin);
    const response = await fetch(url, { ...init, headers });
    seen.allowOrigin = response.headers.get("access-control-allow-origin");
    seen.expose = response.headers.get("access-control-expose-headers") ?? "";
    return response;
  };
}

// --- the cases -------------------------------------------------------------------------------

function check(condition, what) {
  if (!condition) throw new Error(what);
}

const cases = {
  async empty_call(client) {
    const response = await client.emptyCall({});
    check(response.$typeName === "grpc.testing.Empty", `answered ${response.$typeName}`);
  },

  async unary(client, seen, origin) {
    let echoed;
    const response = await client.unaryCall(
      { responseSize: 314159, payload: { body: new Uint8Array(271828) } },
      {
        headers: { "x-grpc-test-echo-initial": "from node" },
        onHeader: (h) => (echoed = h.get("x-grpc-test-echo-initial")),
      },
    );
    check(response.payload?.body.length === 314159, `payload of ${response.payload?.body.length} bytes`);
    check(echoed === "from node", `echoed header ${echoed}`);
    check(seen.allowOrigin === origin, `access-control-allow-origin ${seen.allowOrigin}`);
    check(seen.expose.includes("grpc-status"), `access-control-expose-headers ${seen.expose}`);
  },

  async error_status(client) {
    try {
      await client.unaryCall({ responseStatus: { code: 3, message: "bad ünicode \u{1f426} 100%" } });
    } catch (e) {
      const err = ConnectError.from(e);
      check(err.code === Code.InvalidArgument, `code ${Code[err.code]}: ${err.message}`);
      check(err.rawMessage === "bad ünicode \u{1f426} 100%", `message ${JSON.stringify(err.rawMessage)}`);
      return;
    }
    throw new Error("the call succeeded");
  },

  async unimplemented(client) {
    try {
      await client.unimplementedCall({});
    } catch (e) {
      const err = ConnectError.from(e);
      check(err.code === Code.Unimplemented, `code ${Code[err.code]}: ${err.message}`);
      return;
    }
    throw new Error("the call succeeded");
  },

  async server_streaming(client) {
    const sizes = [31415, 9, 2653, 58979];
    const got = [];
    for await (const response of client.streamingOutputCall({
      responseParameters: sizes.map((size) => ({ size, intervalUs: 1000 })),
    })) {
      got.push(response.payload?.body.length);
    }
    check(JSON.stringify(got) === JSON.stringify(sizes), `sizes ${JSON.stringify(got)}`);
  },

  async server_streaming_error(client) {
    const got = [];
    try {
      for await (const response of client.streamingOutputCall({
        responseParameters: [{ size: 5 }],
        responseStatus: { code: 9, message: "stopped" },
      })) {
        got.push(response.payload?.body.length);
      }
    } catch (e) {
      const err = ConnectError.from(e);
      check(err.code === Code.FailedPrecondition, `code ${Code[err.code]}: ${err.message}`);
      check(JSON.stringify(got) === "[5]", `before the error: ${JSON.stringify(got)}`);
      return;
    }
    throw new Error("the stream ended without the error");
  },

  async timeout(client) {
    try {
      for await (const _ of client.streamingOutputCall(
        { responseParameters: [{ size: 1, intervalUs: 10_000_000 }] },
        { timeoutMs: 200 },
      )) {
        // nothing comes
      }
    } catch (e) {
      const err = ConnectError.from(e);
      check(err.code === Code.DeadlineExceeded, `code ${Code[err.code]}: ${err.message}`);
      return;
    }
    throw new Error("the call finished before its deadline");
  },
};

const { port, origin } = args();
let failed = 0;
for (const mode of ["binary", "text"]) {
  const seen = {};
  const fetch = mode === "binary" ? corsFetch(origin, seen) : textFetch(corsFetch(origin, seen));
  const transport = createGrpcWebTransport({
    baseUrl: `http://127.0.0.1:${port}`,
    useBinaryFormat: true,
    fetch,
  });
  const client = createClient(TestService, transport);
  for (const [name, run] of Object.entries(cases)) {
    try {
      await run(client, seen, origin);
      console.log(`ok ${mode} ${name}`);
    } catch (e) {
      failed++;
      console.log(`fail ${mode} ${name}: ${e instanceof Error ? e.message : e}`);
    }
  }
}
process.exit(failed === 0 ? 0 : 1);
