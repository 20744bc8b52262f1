"""Socket.IO at /socket.io/: Engine.IO 4 (polling and websocket, the probe upgrade, server pings)
carrying Socket.IO 5 packets, for the clients of the Node service this project replaces."""
