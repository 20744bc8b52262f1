// The reference stack: the Node socket.io server Murror realtime replaces, as its docs teach it.
// One process is one pod; pods share rooms through @socket.io/redis-adapter on REDIS_URL. Its
// events are those of the product's /socket.io/ (docs/socketio.md), so that one client speaks
// to both:
//   "join" (room, ack)                 -> socket.join(room), ack({type: "joined", room})
//   "emit" ({room, event, data}, ack)  -> io.to(room).emit(event, data, {room, from}), ack?
// The sender is in the room, so it gets its own event, like the product's default echo.
"use strict";

const { createServer } = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

async function main() {
  const port = Number(process.env.PORT || 3000);
  const pubClient = createClient({ url: process.env.REDIS_URL || "redis://127.0.0.1:6379" });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pubClient, subClient) });
  io.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(room);
      if (typeof ack === "function") ack({ type: "joined", room });
    });
    socket.on("emit", (message, ack) => {
      const { room, event, data } = message;
      io.to(room).emit(event, data, { room, from: socket.id });
      if (typeof ack === "function") ack({ type: "ack" });
    });
  });
  httpServer.listen(port, "127.0.0.1", () => console.log(`Listening on ${port}`));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
