// Load generator for bench/run.py: one process holding many WebSocket members, driven by
// JSON lines on stdin, answering JSON lines on stdout (logs go to stderr).
//
//   {"cmd": "connect", "stack": "product"|"socketio", "members": [[url, room, sender], ...]}
//       open every member, join its room; sender >= 0 is the member's global sender number
//   {"cmd": "send", "step": k, "rate": r, "seconds": s}
//       each local sender emits r/s for s seconds, data {t: send time in ms, s: seq, w: sender,
//       k: step}; answers the emits per room
//   {"cmd": "drain", "expected": n, "timeout": s}
//       waits until n events of step k arrived (or the timeout); answers the counts and a
//       latency histogram
//   {"cmd": "close"}
//
// Two adapters: the product's JSON frames at /ws/ over `ws` (docs/protocol.md), and
// socket.io-client over the websocket transport, for any Socket.IO server that maps events as
// docs/socketio.md does (the product's /socket.io/ and the Node reference alike).
"use strict";

const readline = require("node:readline");
const { performance, monitorEventLoopDelay } = require("node:perf_hooks");
const path = require("node:path");

const modules = path.join(__dirname, "reference", "node_modules");
const WebSocket = require(path.join(modules, "ws"));
const { io } = require(path.join(modules, "socket.io-client"));

const EVENT = "bench";
const now = () => performance.timeOrigin + performance.now();

// Latency histogram: bucket i holds latencies around 1.01^i microseconds (1% resolution).
const LOG_BASE = Math.log(1.01);
const BUCKETS = 2000;

class Step {
  constructor(number) {
    this.number = number;
    this.histogram = new Uint32Array(BUCKETS);
    this.received = 0;
    this.late = 0; // events of another step: they arrived after that step's drain gave up
    this.errors = 0; // error frames from the server (rate_limited, ...)
    this.seen = new Map(); // sender -> {room, receipts: Uint16Array per seq}, for duplicates
    this.firstAt = 0;
    this.lastAt = 0;
  }

  record(room, data, at) {
    if (!data || data.k !== this.number) {
      this.late += 1;
      return;
    }
    const micros = Math.max(1, (at - data.t) * 1000);
    this.histogram[Math.min(BUCKETS - 1, Math.floor(Math.log(micros) / LOG_BASE))] += 1;
    this.received += 1;
    if (!this.firstAt) this.firstAt = at;
    this.lastAt = at;
    let sender = this.seen.get(data.w);
    if (!sender) this.seen.set(data.w, (sender = { room, receipts: new Uint16Array(1024) }));
    if (sender.receipts.length <= data.s) {
      const grown = new Uint16Array((data.s + 1) * 2);
      grown.set(sender.receipts);
      sender.receipts = grown;
    }
    sender.receipts[data.s] += 1;
  }
}

let step = new Step(-1);

// The product: raw JSON frames, as docs/protocol.md describes /ws/.
class ProductMember {
  constructor(url, room, sender) {
    Object.assign(this, { url, room, sender, seq: 0 });
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, { perMessageDeflate: false });
      this.ws = ws;
      ws.on("error", reject);
      ws.on("message", (raw) => {
        const at = now();
        const frame = JSON.parse(raw.toString());
        if (frame.type === "event") step.record(frame.room, frame.data, at);
        else if (frame.type === "welcome") ws.send(JSON.stringify({ type: "join", room: this.room, id: 1 }));
        else if (frame.type === "joined") resolve();
        else if (frame.type === "error") step.errors += 1;
      });
    });
  }

  emit(data) {
    this.ws.send(JSON.stringify({ type: "emit", room: this.room, event: EVENT, data }));
  }

  close() {
    this.ws.terminate();
  }
}

// Socket.IO: socket.io-client over the websocket transport only, with the event mapping of
// docs/socketio.md: join with an ack, emit {room, event, data}, events as (data, {room, from}).
class SocketIoMember {
  constructor(url, room, sender) {
    Object.assign(this, { url, room, sender, seq: 0 });
  }

  open() {
    return new Promise((resolve, reject) => {
      const options = { transports: ["websocket"], forceNew: true, reconnection: false };
      this.socket = io(this.url, options);
      this.socket.on("connect_error", reject);
      this.socket.on("error", () => (step.errors += 1));
      this.socket.on(EVENT, (data, meta) => step.record(meta.room, data, now()));
      this.socket.on("connect", () => this.socket.emit("join", this.room, () => resolve()));
    });
  }

  emit(data) {
    this.socket.emit("emit", { room: this.room, event: EVENT, data });
  }

  close() {
    this.socket.disconnect();
  }
}

const ADAPTERS = { product: ProductMember, socketio: SocketIoMember };
let members = [];
let loopDelay = null;

async function connect({ stack, members: specs, concurrency = 100 }) {
  const started = now();
  const Member = ADAPTERS[stack];
  members = specs.map(([url, room, sender]) => new Member(url, room, sender));
  for (let i = 0; i < members.length; i += concurrency) {
    await Promise.all(members.slice(i, i + concurrency).map((member) => member.open()));
  }
  return { connected: members.length, seconds: (now() - started) / 1000 };
}

// Emits spread evenly: a 1 ms tick sends what is due, round-robin over the local senders.
function send({ step: number, rate, seconds }) {
  step = new Step(number);
  loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const senders = members.filter((member) => member.sender >= 0);
  const total = rate * senders.length;
  const emits = {};
  const started = now();
  let sent = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const elapsed = (now() - started) / 1000;
      const due = Math.min(Math.floor(elapsed * total), Math.floor(seconds * total));
      for (; sent < due; sent += 1) {
        const member = senders[sent % senders.length];
        member.emit({ t: now(), s: member.seq++, w: member.sender, k: number });
        emits[member.room] = (emits[member.room] || 0) + 1;
      }
      if (elapsed < seconds) setTimeout(tick, 1);
      else resolve({ emits, seconds: (now() - started) / 1000 });
    };
    tick();
  });
}

async function drain({ expected, timeout }) {
  const deadline = now() + timeout * 1000;
  while (step.received < expected && now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  loopDelay.disable();
  // Each event should reach every local member of its room once: more is a duplicate.
  const local = {};
  for (const member of members) local[member.room] = (local[member.room] || 0) + 1;
  let duplicates = 0;
  for (const { room, receipts } of step.seen.values()) {
    for (const count of receipts) if (count > local[room]) duplicates += count - local[room];
  }
  const histogram = [];
  step.histogram.forEach((count, bucket) => count && histogram.push([bucket, count]));
  return {
    received: step.received,
    duplicates,
    late: step.late,
    errors: step.errors,
    first_at: step.firstAt,
    last_at: step.lastAt,
    histogram,
    loop_delay_p99_ms: loopDelay.percentile(99) / 1e6,
  };
}

const COMMANDS = {
  connect,
  send,
  drain,
  close: async () => {
    for (const member of members) member.close();
    setTimeout(() => process.exit(0), 100);
    return {};
  },
};

// One command at a time, in order.
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  queue = queue
    .then(() => COMMANDS[command.cmd](command))
    .then((answer) => process.stdout.write(JSON.stringify({ ok: true, ...answer }) + "\n"))
    .catch((error) => process.stdout.write(JSON.stringify({ ok: false, error: String(error) }) + "\n"));
});
