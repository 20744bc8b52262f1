// The generator's ceiling: a near-free broadcast server, so the load generator, not the server,
// is what saturates. One process, no Redis; each emit is encoded once and written to every member
// of its room. It speaks just enough of both protocols for bench/loadgen.js's two adapters:
//   /ws/         the product's JSON frames (welcome, join -> joined, emit -> event)
//   /socket.io/  engine.io v4 + socket.io v5 framing (open, connect, join with ack, emit -> the
//                event as (data, {room, from}), as docs/socketio.md maps it)
"use strict";

const http = require("node:http");
const WebSocket = require("ws");

const rooms = new Map(); // room -> Set of sockets
let nextId = 0;

function roomJoin(ws, room) {
  if (!rooms.has(room)) rooms.set(room, new Set());
  rooms.get(room).add(ws);
  ws.on("close", () => rooms.get(room).delete(ws));
}

function roomSend(room, text) {
  const frame = Buffer.from(text);
  for (const member of rooms.get(room) || []) member.send(frame, { binary: false });
}

function product(ws, id) {
  ws.send(JSON.stringify({ type: "welcome", connection_id: id, pod: "echo", layer: "memory" }));
  ws.on("message", (raw) => {
    const message = JSON.parse(raw.toString());
    if (message.type === "join") {
      roomJoin(ws, message.room);
      ws.send(JSON.stringify({ type: "joined", room: message.room, id: message.id }));
    } else if (message.type === "emit") {
      const { room, event, data } = message;
      roomSend(room, JSON.stringify({ type: "event", room, event, data, from: id }));
    }
  });
}

function socketio(ws, id) {
  // No heartbeats during a benchmark: an hour between pings.
  const open = { sid: id, upgrades: [], pingInterval: 3600000, pingTimeout: 60000, maxPayload: 1e6 };
  ws.send("0" + JSON.stringify(open));
  ws.on("message", (raw) => {
    const text = raw.toString();
    if (text === "40") return ws.send(`40{"sid":"${id}"}`);
    const packet = /^42(\d*)(.*)$/s.exec(text); // an event, with an ack id when one is wanted
    if (!packet) return;
    const [name, argument] = JSON.parse(packet[2]);
    if (name === "join") {
      roomJoin(ws, argument);
      ws.send(`43${packet[1]}` + JSON.stringify([{ type: "joined", room: argument }]));
    } else if (name === "emit") {
      const { room, event, data } = argument;
      roomSend(room, "42" + JSON.stringify([event, data, { room, from: id }]));
    }
  });
}

const server = http.createServer();
const wss = new WebSocket.Server({ server, perMessageDeflate: false });
wss.on("connection", (ws, request) => {
  const id = `echo-${nextId++}`;
  if (request.url.startsWith("/socket.io/")) socketio(ws, id);
  else product(ws, id);
});
server.listen(Number(process.env.PORT || 3000), "127.0.0.1", () =>
  console.log(`Listening on ${server.address().port}`),
);
