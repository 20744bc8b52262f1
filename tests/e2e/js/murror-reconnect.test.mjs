// The client's connection logic against a fake socket: backoff, URL rotation, rejoin, queueing.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  backoffDelay,
  CLIENT_GAVE_UP,
  connect,
  SERVICE_RESTART,
  SERVICE_RESTART_APP,
} from "../../../realtime/static/realtime/murror.js";
import { eventually, fakeWebSocketClass } from "./fake-socket.mjs";

/**
 * A client on fake sockets with short timers; `random` fixed so delays are predictable.
 * @param {import("node:test").TestContext} t closes the client after the test, failed or not
 * @param {Record<string, unknown>} [options]
 */
function fakeClient(t, options = {}) {
  const { FakeSocket, sockets } = fakeWebSocketClass();
  const urls = ["ws://one/ws/", "ws://two/ws/"];
  const client = connect(urls, {
    WebSocket: /** @type {any} */ (FakeSocket),
    backoffBase: 10,
    backoffCap: 80,
    random: () => 0.5,
    pingInterval: 0,
    ...options,
  });
  /** @type {[string, Record<string, unknown>][]} */
  const states = [];
  client.on("state", (state, detail) => states.push([state, detail]));
  t.after(() => client.close());
  return { client, sockets, states };
}

test("backoff is exponential with full jitter, capped", () => {
  const top = () => 0.999999;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, 250, 10000, top)),
    [249, 499, 999, 1999, 3999, 9999],
  );
  assert.equal(backoffDelay(5, 250, 10000, () => 0), 0);
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(3, 250, 10000)));
  assert.ok(spread.size > 10, "jitter spreads clients over the whole window");
});

test("failed attempts back off more each time and rotate through the URLs", async (t) => {
  const { client, sockets, states } = fakeClient(t);
  const opened = [];
  for (let n = 1; n <= 5; n++) {
    await eventually(() => sockets.length === n, `attempt ${n}`);
    opened.push(performance.now());
    if (n < 5) sockets[n - 1].serverClose(1006);
  }
  assert.deepEqual(
    sockets.map((socket) => socket.url),
    ["ws://one/ws/", "ws://two/ws/", "ws://one/ws/", "ws://two/ws/", "ws://one/ws/"],
  );
  // random() is 0.5: half of 10, 20, 40, then the cap of 80 ms.
  const gaps = opened.slice(1).map((time, n) => time - opened[n]);
  [5, 10, 20, 40].forEach((delay, n) => assert.ok(gaps[n] >= delay - 1, `gap ${n}: ${gaps}`));
  assert.equal(client.state, "connecting", "never connected yet: not reconnecting");
  assert.deepEqual(states, []);
});

test("after a reconnect the rooms are joined again, once, and nothing resolves twice", async (t) => {
  const { client, sockets, states } = fakeClient(t);
  await eventually(() => sockets.length === 1, "first socket");
  sockets[0].welcome("pod-1");
  const joined = await Promise.all([
    client.join("a"),
    client.join("b"),
    eventually(() => sockets[0].sent.length === 2 && (sockets[0].answerAll(), true), "joins"),
  ]);
  assert.deepEqual(
    joined.slice(0, 2).map((reply) => reply.room),
    ["a", "b"],
  );
  const leave = client.leave("b");
  sockets[0].answerAll();
  assert.deepEqual(await leave, { type: "left", room: "b", id: 3 });
  assert.deepEqual(client.rooms, ["a"]);

  sockets[0].serverClose(1006);
  assert.equal(client.state, "reconnecting");
  await eventually(() => sockets.length === 2, "second socket");
  assert.equal(sockets[1].url, "ws://two/ws/");
  sockets[1].welcome("pod-2");
  assert.deepEqual(
    sockets[1].sent.map((frame) => [frame.type, frame.room]),
    [["join", "a"]],
  );
  assert.equal(client.state, "reconnecting", "open only once the rooms are back");
  sockets[1].answerAll();
  await eventually(() => client.state === "open", "open");
  assert.equal(client.pod, "pod-2");
  assert.equal(client.connectionId, "c-pod-2");
  assert.deepEqual(
    states.map(([state]) => state),
    ["open", "reconnecting", "open"],
  );
  assert.equal(states[1][1].code, 1006);
});

test("requests wait for a connection; a lost emit rejects, a lost join is sent again", async (t) => {
  const { client, sockets } = fakeClient(t);
  const queued = client.members("room");
  await eventually(() => sockets.length === 1, "socket");
  assert.deepEqual(sockets[0].sent, [], "nothing is sent before the welcome");
  sockets[0].welcome("pod-1");
  assert.deepEqual(sockets[0].sent, [{ type: "members", room: "room", id: 1 }]);
  sockets[0].sent.length = 0;
  sockets[0].deliver({ type: "members", room: "room", count: 3, id: 1 });
  assert.equal(await queued, 3);

  const join = client.join("r");
  const emit = client.emit("r", "chat", { text: "x" });
  sockets[0].serverClose(1006);
  await assert.rejects(emit, { name: "MurrorError", code: "disconnected" });
  await eventually(() => sockets.length === 2, "second socket");
  sockets[1].welcome("pod-1");
  // The join in flight is sent again (it is also the room's rejoin), with the same id.
  assert.deepEqual(sockets[1].sent, [{ type: "join", room: "r", id: 2 }]);
  sockets[1].answerAll();
  assert.deepEqual(await join, { type: "joined", room: "r", id: 2 });
});

for (const code of [SERVICE_RESTART, SERVICE_RESTART_APP]) {
  test(`close code ${code} (pod draining) reconnects at once, whatever the backoff`, async (t) => {
    const { client, sockets } = fakeClient(t, { backoffBase: 200, backoffCap: 60000 });
    await eventually(() => sockets.length === 1, "socket");
    sockets[0].serverClose(1006); // next in 100 ms
    await eventually(() => sockets.length === 2, "second socket");
    sockets[1].serverClose(1006); // next in 200 ms
    await eventually(() => sockets.length === 3, "third socket");
    const drained = performance.now();
    sockets[2].serverClose(code); // 400 ms had it been a failure; 100 ms
    await eventually(() => sockets.length === 4, "fourth socket");
    const waited = performance.now() - drained;
    assert.ok(waited >= 99 && waited < 350, `waited ${waited} ms`);
  });
}

test("an error reply rejects with its code; one without id goes to the error event", async (t) => {
  const { client, sockets } = fakeClient(t);
  /** @type {any[]} */
  const errors = [];
  client.on("error", (error) => errors.push(error));
  await eventually(() => sockets.length === 1, "socket");
  sockets[0].welcome("pod-1");
  const emit = client.emit("r", "chat");
  sockets[0].deliver({ type: "error", code: "not_in_room", message: "join first", id: 1 });
  await assert.rejects(emit, { code: "not_in_room", message: "join first" });
  sockets[0].deliver({ type: "error", code: "too_large", message: "frame too big" });
  assert.deepEqual(
    errors.map((error) => error.code),
    ["too_large"],
  );
});

test("a rejoin the server refuses forgets the room and is reported", async (t) => {
  const { client, sockets } = fakeClient(t);
  const errors = [];
  client.on("error", (error) => errors.push(error.code));
  await eventually(() => sockets.length === 1, "socket");
  sockets[0].welcome("pod-1");
  const join = client.join("r");
  sockets[0].answerAll();
  await join;
  sockets[0].serverClose(1006);
  await eventually(() => sockets.length === 2, "second socket");
  sockets[1].welcome("pod-2");
  const [rejoin] = sockets[1].sent;
  sockets[1].deliver({ type: "error", code: "too_many_rooms", message: "no", id: rejoin.id });
  await eventually(() => client.state === "open", "open");
  assert.deepEqual(errors, ["too_many_rooms"]);
  assert.deepEqual(client.rooms, []);
});

test("timeouts: a request without reply, a socket without welcome, a ping without pong", async (t) => {
  const { client, sockets } = fakeClient(t, { timeout: 50, connectTimeout: 100, pingInterval: 30 });
  await assert.rejects(client.join("r"), { code: "timeout" });
  assert.deepEqual(client.rooms, [], "a join that failed is not rejoined");
  await eventually(() => sockets[0].closedByClient, "no welcome: the client gives up");
  assert.equal(sockets[0].closedByClient?.code, CLIENT_GAVE_UP);
  await eventually(() => sockets.length === 2, "second socket");
  sockets[1].welcome("pod-2");
  await eventually(() => sockets[1].closedByClient, "no pong: the client gives up", 1000);
  assert.match(sockets[1].closedByClient?.reason ?? "", /pong/);
  await eventually(() => sockets.length === 3, "third socket");
});

test("close() rejects what waits, stops reconnecting and refuses new requests", async (t) => {
  const { client, sockets, states } = fakeClient(t);
  const waiting = client.ping();
  client.close();
  await assert.rejects(waiting, { code: "closed" });
  await assert.rejects(client.join("r"), { code: "closed" });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(sockets.length, 1);
  assert.deepEqual(sockets[0].closedByClient, { code: 1000, reason: "client closed" });
  assert.deepEqual(
    states.map(([state]) => state),
    ["closed"],
  );
});

test("room events reach their named handler and the catch-all; off() stops them", async (t) => {
  const { client, sockets } = fakeClient(t);
  const chats = [];
  const all = [];
  const stop = client.on("chat", (data, event) => chats.push([data, event.room, event.from]));
  client.on("event", (event) => all.push(event.event));
  await eventually(() => sockets.length === 1, "socket");
  sockets[0].welcome("pod-1");
  const frame = { type: "event", room: "r", event: "chat", data: { text: "hi" }, from: "x" };
  sockets[0].deliver(frame);
  sockets[0].deliver({ ...frame, event: "state" }); // a room event named like a client event
  stop();
  sockets[0].deliver(frame);
  assert.deepEqual(chats, [[{ text: "hi" }, "r", "x"]]);
  assert.deepEqual(all, ["chat", "state", "chat"]);
});

test("protocols: a function gives each new connection its own (a fresh token)", async (t) => {
  let issued = 0;
  const { sockets } = fakeClient(t, { protocols: async () => [`murror.token.t${++issued}`] });
  await eventually(() => sockets.length === 1, "socket");
  sockets[0].serverClose(4401);
  await eventually(() => sockets.length === 2, "second socket");
  assert.deepEqual(
    sockets.map((socket) => socket.protocols),
    [["murror.token.t1"], ["murror.token.t2"]],
  );
});
