// MQTT.js client for mqhub's integration tests (tests/integration/test_mqttjs.py): connects over ws, wss, mqtt or
// mqtts, and prints one JSON object per line on stdout: {"event": "connected" | "subscribed" | "message" |
// "published" | "error" | "done", ...}. The last line is always "done" with ok true or false; the exit code is 0
// when ok.
//
//   node mqttjs_client.mjs --url wss://127.0.0.1:8084/mqtt --ca ca.pem [--cert c.pem --key c.key]
//        [--protocol-version 4|5] [--client-id ID] --mode roundtrip|sub|pub|connect
//        [--topic T] [--qos 0|1|2] [--count N] [--timeout-ms MS] [--topic-alias-maximum N]
//
// Modes: roundtrip subscribes to the topic, publishes `count` messages to it and waits for them; sub subscribes
// and prints `count` messages as they arrive; pub publishes `count` messages; connect only connects.
// TLS (wss, mqtts) verifies the server against --ca (rejectUnauthorized); without --ca, Node's default CAs.
// --topic-alias-maximum (MQTT 5) lets the server send topic aliases, which MQTT.js resolves on receipt.
import { readFileSync } from "node:fs";
import mqtt from "mqtt";

function parseArgs(argv) {
  const args = { mode: "roundtrip", qos: 1, count: 1, protocolVersion: 5, timeoutMs: 10000 };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "");
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`missing value for --${name}`);
    const key = name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    args[key] = ["qos", "count", "protocolVersion", "timeoutMs", "topicAliasMaximum"].includes(key)
      ? Number(value)
      : value;
  }
  if (!args.url) throw new Error("--url is required");
  return args;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const payloadOf = (i) => `mqttjs ${i}`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const options = {
    protocolVersion: args.protocolVersion,
    clientId: args.clientId || `mqttjs-${process.pid}-${Date.now()}`,
    clean: true,
    reconnectPeriod: 0, // one attempt: a refusal must show up as an error, not as retries
    connectTimeout: args.timeoutMs,
    rejectUnauthorized: true,
  };
  if (args.topicAliasMaximum) options.properties = { topicAliasMaximum: args.topicAliasMaximum };
  if (args.ca) options.ca = readFileSync(args.ca);
  if (args.cert) options.cert = readFileSync(args.cert);
  if (args.key) options.key = readFileSync(args.key);
  if (args.url.startsWith("ws")) options.wsOptions = { protocol: "mqtt" };

  const received = [];
  let finished = false;
  let client;
  const finish = (ok, extra = {}) => {
    if (finished) return;
    finished = true;
    emit({ event: "done", ok, received: received.length, ...extra });
    const code = ok ? 0 : 1;
    if (client) client.end(true, {}, () => process.exit(code));
    setTimeout(() => process.exit(code), 500).unref();
  };
  const timer = setTimeout(() => finish(false, { error: `timed out after ${args.timeoutMs} ms` }), args.timeoutMs);
  timer.unref();

  client = mqtt.connect(args.url, options);
  client.on("error", (err) => {
    if (finished) return;
    emit({ event: "error", message: String(err && err.message), code: err && err.code });
    finish(false, { error: String(err && err.message), code: err && err.code });
  });
  client.on("close", () => {
    if (!finished) finish(false, { error: "connection closed" });
  });
  client.on("message", (topic, payload, packet) => {
    received.push(payload.toString());
    emit({ event: "message", topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
    if ((args.mode === "roundtrip" || args.mode === "sub") && received.length >= args.count) {
      clearTimeout(timer);
      finish(true);
    }
  });
  client.on("connect", async (connack) => {
    emit({ event: "connected", sessionPresent: connack.sessionPresent, reasonCode: connack.reasonCode ?? connack.returnCode ?? 0 });
    try {
      if (args.mode === "connect") {
        clearTimeout(timer);
        finish(true);
        return;
      }
      if (args.mode === "roundtrip" || args.mode === "sub") {
        const granted = await client.subscribeAsync(args.topic, { qos: args.qos });
        emit({ event: "subscribed", granted: granted.map((g) => g.qos) });
      }
      if (args.mode === "roundtrip" || args.mode === "pub") {
        for (let i = 0; i < args.count; i++) {
          await client.publishAsync(args.topic, payloadOf(i), { qos: args.qos });
        }
        emit({ event: "published", count: args.count });
        if (args.mode === "pub") {
          clearTimeout(timer);
          finish(true);
        }
      }
    } catch (err) {
      finish(false, { error: String(err && err.message) });
    }
  });
}

main().catch((err) => {
  emit({ event: "done", ok: false, error: String(err && err.message) });
  process.exit(2);
});
