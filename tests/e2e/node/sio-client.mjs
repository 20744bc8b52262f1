// One socket.io-client socket, driven by the tests: a JSON command per line on stdin, a JSON
// report per line on stdout (tests/support/sio_node.py speaks this).
//   {"cmd": "connect", "url": U, "options": {...}}  -> {"kind": "connect", "id", "transport", "recovered"}
//                                                     or {"kind": "connect_error", "message"}
//   {"cmd": "emit", "n": N, "event": E, "args": [...], "ack": true}  -> {"kind": "ack", "n", "args"}
//   {"cmd": "disconnect"}                           -> {"kind": "disconnect", "reason"}
// and, unasked: every event as {"kind": "event", "event", "args"}, the engine's opening and each
// upgrade as {"kind": "open"|"upgrade", "transport"}, every disconnect as {"kind": "disconnect",
// "reason"}.
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

let socket = null;

function report(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function connect({ url, options }) {
  socket = io(url, { forceNew: true, ...options });
  // The engine opens before the socket connects, and may upgrade before that too.
  socket.io.on("open", () => {
    const engine = socket.io.engine;
    report({ kind: "open", transport: engine.transport.name });
    engine.on("upgrade", (transport) => report({ kind: "upgrade", transport: transport.name }));
  });
  socket.on("connect", () => {
    report({
      kind: "connect",
      id: socket.id,
      transport: socket.io.engine.transport.name,
      recovered: socket.recovered,
    });
  });
  socket.on("connect_error", (error) => report({ kind: "connect_error", message: error.message }));
  socket.on("disconnect", (reason) => report({ kind: "disconnect", reason }));
  socket.onAny((event, ...args) => report({ kind: "event", event, args }));
}

function emit({ n, event, args, ack }) {
  if (ack) socket.emit(event, ...args, (...reply) => report({ kind: "ack", n, args: reply }));
  else socket.emit(event, ...args);
}

const commands = { connect, emit, disconnect: () => socket.disconnect() };

createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  commands[command.cmd](command);
});
process.stdin.on("end", () => process.exit(0));
