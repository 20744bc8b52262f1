// The client against real daphne pods started by tests/test_js_client.py: pod-1 and pod-2 on one
// Redis (MURROR_WS_URLS), and a control URL that kills pod-1 (MURROR_CONTROL_URL).
import assert from "node:assert/strict";
import { test } from "node:test";

import { connect } from "../../../realtime/static/realtime/murror.js";
import { eventually } from "./fake-socket.mjs";

const [POD1, POD2] = (process.env.MURROR_WS_URLS ?? "").split(",");
const CONTROL = process.env.MURROR_CONTROL_URL;
const skip = !POD1 || !POD2 || !CONTROL ? "run through pytest tests/test_js_client.py" : false;

/**
 * A client that is welcomed (and closed after the test).
 * @param {import("node:test").TestContext} t
 * @param {string | string[]} urls
 * @param {Record<string, unknown>} [options]
 */
async function opened(t, urls, options = {}) {
  const client = connect(urls, { WebSocket, ...options });
  t.after(() => client.close());
  await new Promise((resolve) => client.on("welcome", resolve));
  return client;
}

test("connect: welcome from the pod, state open", { skip }, async (t) => {
  const client = await opened(t, POD1);
  await eventually(() => client.state === "open", "open");
  assert.equal(client.pod, "pod-1");
  assert.equal(client.layer, "redis");
  assert.match(client.connectionId ?? "", /^[0-9a-f]{32}$/);
});

test("join, members, leave and ping resolve with their replies", { skip }, async (t) => {
  const client = await opened(t, POD1);
  const joined = await client.join("js-basics");
  assert.deepEqual(joined, { type: "joined", room: "js-basics", id: joined.id });
  assert.deepEqual(client.rooms, ["js-basics"]);
  assert.equal(await client.members("js-basics"), 1);
  assert.equal((await client.ping()).type, "pong");
  assert.equal((await client.leave("js-basics")).type, "left");
  assert.equal(await client.members("js-basics"), 0);
  assert.deepEqual(client.rooms, []);
});

test("emit resolves on its ack; members on another pod get the event", { skip }, async (t) => {
  const [sender, receiver] = [await opened(t, POD1), await opened(t, POD2)];
  await Promise.all([sender.join("js-chat"), receiver.join("js-chat")]);
  assert.equal(await sender.members("js-chat"), 2);
  const received = new Promise((resolve) => receiver.on("chat", (data, event) => resolve(event)));
  const echoes = [];
  sender.on("event", (event) => echoes.push(event));
  assert.equal((await sender.emit("js-chat", "chat", { text: "hi" })).type, "ack");
  assert.deepEqual(await received, {
    type: "event",
    room: "js-chat",
    event: "chat",
    data: { text: "hi" },
    from: sender.connectionId,
  });
  assert.equal(echoes.length, 1, "the sender gets its own event before the ack");
  await sender.emit("js-chat", "chat", 2, { echo: false });
  assert.equal(echoes.length, 1, "echo: false skips the sender");
});

test("error replies reject with the protocol's code", { skip }, async (t) => {
  const client = await opened(t, POD1);
  await assert.rejects(client.join("no spaces"), { name: "MurrorError", code: "bad_room" });
  await assert.rejects(client.emit("js-elsewhere", "chat", 1), { code: "not_in_room" });
  await client.join("js-errors");
  await assert.rejects(client.emit("js-errors", "bad event!", 1), { code: "bad_event" });
  assert.deepEqual(client.rooms, ["js-errors"], "a failed join is forgotten, the good one kept");
});

test("a request times out when no pod answers", { skip }, async (t) => {
  const nowhere = connect("ws://127.0.0.1:9/ws/", { WebSocket, timeout: 300 });
  t.after(() => nowhere.close());
  const started = performance.now();
  await assert.rejects(nowhere.ping(), { code: "timeout" });
  assert.ok(performance.now() - started >= 290);
  assert.equal(nowhere.state, "connecting");
});

test("pod-1 killed: the client moves to pod-2, rejoins, and receives", { skip }, async (t) => {
  const moving = await opened(t, [POD1, POD2]);
  const staying = await opened(t, POD2);
  await Promise.all([moving.join("js-move"), staying.join("js-move")]);
  const states = [];
  moving.on("state", (state) => states.push(state));

  const killed = await fetch(`${CONTROL}/kill/pod-1`, { method: "POST" });
  assert.equal(killed.status, 200);
  await eventually(() => moving.state === "open" && moving.pod === "pod-2", "pod-2", 10000);
  assert.deepEqual(states, ["reconnecting", "open"]);
  assert.deepEqual(moving.rooms, ["js-move"]);

  const received = new Promise((resolve) => moving.on("chat", resolve));
  await staying.emit("js-move", "chat", { text: "after the move" });
  assert.deepEqual(await received, { text: "after the move" });
});
