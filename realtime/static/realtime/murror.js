/**
 * Murror realtime client: the WebSocket protocol of /ws/ (rooms, events, replies matched by id)
 * with automatic reconnection. An ES module without dependencies, for browsers and Node >= 20.
 *
 *     import { connect } from "/client/murror.js";
 *     const client = connect("wss://example.com/ws/");
 *     client.on("chat", (data, event) => console.log(event.from, data));
 *     await client.join("lobby");
 *     await client.emit("lobby", "chat", { text: "hi" });
 *
 * Requests made while disconnected wait in a queue and are sent once a connection is open; each
 * rejects with code "timeout" if its reply has not come `timeout` ms after the call.
 *
 * @module murror
 */

/** @typedef {"connecting" | "open" | "reconnecting" | "closed"} ConnectionState */

/**
 * @typedef {object} ClientOptions
 * @property {typeof WebSocket} [WebSocket] the WebSocket class (default: globalThis.WebSocket)
 * @property {number} [timeout] ms before a request rejects with code "timeout" (5000)
 * @property {number} [backoffBase] ms: a first reconnect waits a random time up to this (250)
 * @property {number} [backoffCap] ms: no reconnect waits longer than this (10000)
 * @property {number} [connectTimeout] ms for a new socket to open and say welcome (10000)
 * @property {number} [pingInterval] ms between pings that find a dead connection; 0: off (25000)
 * @property {string | string[] | (() => string[] | Promise<string[]>)} [protocols] WebSocket
 *   subprotocols, e.g. ["murror.token." + token]; a function is called before every connection,
 *   so that each one can carry a fresh token
 * @property {() => number} [random] jitter source in [0, 1) (Math.random)
 */

/**
 * @typedef {object} Request
 * @property {number} id
 * @property {Record<string, unknown>} frame
 * @property {(reply: any) => void} resolve
 * @property {(error: MurrorError) => void} reject
 * @property {ReturnType<typeof setTimeout> | undefined} timer
 * @property {boolean} internal sent by the client itself (rejoin, ping), never resent
 */

/** Close code of a pod that is draining or restarting (RFC 6455 "Service Restart"). */
export const SERVICE_RESTART = 1012;
/** The same from daphne, which may only send 1000 or 3000-4999 itself. */
export const SERVICE_RESTART_APP = 4012;
/** Close code the client uses when it gives up on a socket (no welcome, no pong). */
export const CLIENT_GAVE_UP = 4000;

// Safe to send again on a new connection when the old one closed before the reply.
const IDEMPOTENT = new Set(["join", "leave", "members", "ping"]);
// Client events; a room event with one of these names arrives only through "event".
const CLIENT_EVENTS = new Set(["state", "welcome", "event", "error"]);

/** A request that failed: `code` is the server's error code, or timeout/disconnected/closed. */
export class MurrorError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {Record<string, unknown>} [reply] the server's error frame, when there was one
   */
  constructor(code, message, reply) {
    super(message);
    this.name = "MurrorError";
    this.code = code;
    this.reply = reply;
  }
}

/**
 * Exponential backoff with full jitter: a random delay up to min(cap, base * 2^attempt).
 * @param {number} attempt failed attempts in a row so far (0 for the first retry)
 * @param {number} base
 * @param {number} cap
 * @param {() => number} [random]
 * @returns {number} ms
 */
export function backoffDelay(attempt, base, cap, random = Math.random) {
  return Math.floor(random() * Math.min(cap, base * 2 ** attempt));
}

/**
 * Open a client; it connects in the background and reconnects until `close()`.
 * @param {string | string[]} urls one /ws/ URL, or several tried in turn on each reconnect
 * @param {ClientOptions} [options]
 * @returns {MurrorClient}
 */
export function connect(urls, options = {}) {
  return new MurrorClient(urls, options);
}

export class MurrorClient {
  /**
   * @param {string | string[]} urls
   * @param {ClientOptions} [options]
   */
  constructor(urls, options = {}) {
    /** @type {string[]} */
    this.urls = (Array.isArray(urls) ? urls : [urls]).map(String);
    if (this.urls.length === 0) throw new TypeError("connect() needs at least one URL");
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this._WebSocket !== "function") {
      throw new TypeError(
        "no WebSocket class: pass options.WebSocket (on Node 20, run node --experimental-websocket)",
      );
    }
    this._timeout = options.timeout ?? 5000;
    this._backoffBase = options.backoffBase ?? 250;
    this._backoffCap = options.backoffCap ?? 10000;
    this._connectTimeout = options.connectTimeout ?? 10000;
    this._pingInterval = options.pingInterval ?? 25000;
    this._random = options.random ?? Math.random;
    this._protocols = options.protocols;

    /** @type {ConnectionState} */
    this.state = "connecting";
    /** @type {string | null} the pod this connection is on, from its welcome */
    this.pod = null;
    /** @type {string | null} */
    this.connectionId = null;
    /** @type {string | null} "redis" or "memory" */
    this.layer = null;
    /** @type {string | null} the URL of the current or next socket */
    this.url = null;

    /** @type {Set<string>} rooms the app joined (or is joining) and has not left */
    this._rooms = new Set();
    /** @type {Map<string, Set<Function>>} */
    this._handlers = new Map();
    /** @type {Map<number, Request>} sent, waiting for their reply */
    this._pending = new Map();
    /** @type {Request[]} waiting for a connection */
    this._queue = [];
    this._nextId = 1;
    /** @type {WebSocket | null} */
    this._socket = null;
    this._welcomed = false;
    this._urlIndex = 0;
    this._attempt = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this._timer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this._pingTimer = undefined;
    this._open();
  }

  /** @returns {string[]} the rooms this client is in, and rejoins after a reconnect */
  get rooms() {
    return [...this._rooms];
  }

  /**
   * Join a room; it is joined again after every reconnect until `leave`.
   * A join that fails is forgotten (not rejoined).
   * @param {string} room
   * @returns {Promise<{type: "joined", room: string}>}
   */
  join(room) {
    this._rooms.add(room);
    return this._request({ type: "join", room }).catch((error) => {
      this._rooms.delete(room);
      throw error;
    });
  }

  /**
   * @param {string} room
   * @returns {Promise<{type: "left", room: string}>}
   */
  leave(room) {
    this._rooms.delete(room);
    return this._request({ type: "leave", room });
  }

  /**
   * Send an event to every member of a room (on every pod); resolves on the server's ack.
   * Never resent after a disconnect: it rejects with code "disconnected", delivered or not.
   * @param {string} room
   * @param {string} event
   * @param {unknown} [data]
   * @param {{echo?: boolean}} [options] echo: false to not receive it yourself
   * @returns {Promise<{type: "ack"}>}
   */
  emit(room, event, data = null, options = {}) {
    const frame = { type: "emit", room, event, data };
    return this._request(options.echo === false ? { ...frame, echo: false } : frame);
  }

  /**
   * @param {string} room
   * @returns {Promise<number>} the room's member count over all pods
   */
  members(room) {
    return this._request({ type: "members", room }).then((reply) => reply.count);
  }

  /** @returns {Promise<{type: "pong"}>} */
  ping() {
    return this._request({ type: "ping" });
  }

  /**
   * Listen to a room event by name (handler gets data and the whole event frame), to every room
   * event ("event"), or to the client's "welcome", "state" (state, detail) and "error" (MurrorError
   * not tied to a request: a failed rejoin, an error reply without id).
   * @param {string} name
   * @param {Function} handler
   * @returns {() => void} removes the handler
   */
  on(name, handler) {
    if (!this._handlers.has(name)) this._handlers.set(name, new Set());
    this._handlers.get(name)?.add(handler);
    return () => this.off(name, handler);
  }

  /**
   * @param {string} name
   * @param {Function} handler
   */
  off(name, handler) {
    this._handlers.get(name)?.delete(handler);
  }

  /** Close for good: no reconnect; waiting requests reject with code "closed". */
  close() {
    if (this.state === "closed") return;
    clearTimeout(this._timer);
    clearInterval(this._pingTimer);
    const socket = this._socket;
    this._socket = null;
    this._welcomed = false;
    if (socket) {
      socketDetach(socket);
      socket.close(1000, "client closed");
    }
    const error = new MurrorError("closed", "the client was closed");
    for (const request of [...this._pending.values(), ...this._queue]) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    this._pending.clear();
    this._queue = [];
    this._stateSet("closed", {});
  }

  /**
   * @param {Record<string, unknown>} frame
   * @param {boolean} [internal]
   * @returns {Promise<any>}
   */
  _request(frame, internal = false) {
    return new Promise((resolve, reject) => {
      if (this.state === "closed") {
        reject(new MurrorError("closed", "the client was closed"));
        return;
      }
      const id = this._nextId++;
      /** @type {Request} */
      const request = { id, frame: { ...frame, id }, resolve, reject, timer: undefined, internal };
      request.timer = setTimeout(() => {
        const message = `no reply to ${frame.type} within ${this._timeout} ms`;
        this._requestFail(request, new MurrorError("timeout", message));
      }, this._timeout);
      if (this._welcomed) this._send(request);
      else this._queue.push(request);
    });
  }

  /** @param {Request} request */
  _send(request) {
    this._pending.set(request.id, request);
    this._socket?.send(JSON.stringify(request.frame));
  }

  /**
   * @param {Request} request
   * @param {MurrorError} error
   */
  _requestFail(request, error) {
    clearTimeout(request.timer);
    this._pending.delete(request.id);
    const queued = this._queue.indexOf(request);
    if (queued >= 0) this._queue.splice(queued, 1);
    request.reject(error);
  }

  _open() {
    const url = this.urls[this._urlIndex % this.urls.length];
    this.url = url;
    if (typeof this._protocols !== "function") {
      this._socketOpen(url, this._protocols);
      return;
    }
    Promise.resolve()
      .then(/** @type {() => string[] | Promise<string[]>} */ (this._protocols))
      .then(
        (protocols) => this.state !== "closed" && this._socketOpen(url, protocols),
        (error) => this.state !== "closed" && this._openFailed(url, error),
      );
  }

  /**
   * @param {string} url
   * @param {string | string[] | undefined} protocols
   */
  _socketOpen(url, protocols) {
    /** @type {WebSocket} */
    let socket;
    try {
      socket = new this._WebSocket(url, protocols);
    } catch (error) {
      this._openFailed(url, error);
      return;
    }
    this._socket = socket;
    socket.onmessage = (message) => this._receive(socket, message.data);
    socket.onclose = (event) => this._closed(socket, event);
    socket.onerror = () => {}; // a close event always follows, and carries what we need
    this._timer = setTimeout(() => this._drop(socket, "no welcome in time"), this._connectTimeout);
  }

  /**
   * @param {string} url
   * @param {unknown} error
   */
  _openFailed(url, error) {
    this._emitError(new MurrorError("connect_failed", `cannot open ${url}: ${error}`));
    this._reconnect({ code: 1006, reason: String(error) });
  }

  /**
   * @param {WebSocket} socket
   * @param {unknown} data
   */
  _receive(socket, data) {
    if (socket !== this._socket) return;
    let message;
    try {
      message = JSON.parse(String(data));
    } catch {
      this._emitError(new MurrorError("bad_frame", "the server sent a frame that is not JSON"));
      return;
    }
    if (message.type === "welcome") {
      this._welcome(socket, message);
      return;
    }
    if (message.type === "event") {
      this._dispatch("event", message);
      if (!CLIENT_EVENTS.has(message.event)) this._dispatch(message.event, message.data, message);
      return;
    }
    const request = message.id == null ? undefined : this._pending.get(message.id);
    if (request === undefined) {
      if (message.type === "error") {
        this._emitError(new MurrorError(message.code, message.message, message));
      }
      return;
    }
    clearTimeout(request.timer);
    this._pending.delete(request.id);
    if (message.type === "error") {
      request.reject(new MurrorError(message.code, message.message, message));
    } else {
      request.resolve(message);
    }
  }

  /**
   * A connection is usable: rejoin the rooms, send what waited, then say "open".
   * @param {WebSocket} socket
   * @param {Record<string, any>} welcome
   */
  _welcome(socket, welcome) {
    clearTimeout(this._timer);
    this.pod = welcome.pod;
    this.connectionId = welcome.connection_id;
    this.layer = welcome.layer;
    this._welcomed = true;
    this._attempt = 0;
    this._dispatch("welcome", welcome);
    const queued = this._queue;
    this._queue = [];
    // A join still waiting to be sent is the rejoin of its room.
    const joining = new Set(queued.filter((r) => r.frame.type === "join").map((r) => r.frame.room));
    const rejoins = this.rooms.filter((room) => !joining.has(room)).map((r) => this._rejoin(r));
    for (const request of queued) this._send(request);
    if (this._pingInterval > 0) {
      this._pingTimer = setInterval(() => this._heartbeat(socket), this._pingInterval);
    }
    Promise.all(rejoins).then(() => {
      if (this._socket === socket && this._welcomed) this._stateSet("open", { pod: this.pod });
    });
  }

  /**
   * @param {string} room
   * @returns {Promise<void>}
   */
  _rejoin(room) {
    return this._request({ type: "join", room }, true).then(
      () => {},
      (error) => {
        // Only a refusal by the server forgets the room; a lost connection rejoins it next time.
        if (error.reply) {
          this._rooms.delete(room);
          this._emitError(error);
        }
      },
    );
  }

  /** @param {WebSocket} socket */
  _heartbeat(socket) {
    // A half-open TCP connection (a dead pod behind NAT, a laptop waking up) sends no close.
    this._request({ type: "ping" }, true).catch((error) => {
      if (error.code === "timeout" && this._socket === socket) this._drop(socket, "no pong in time");
    });
  }

  /**
   * Give up on a socket now rather than wait for a close handshake that may never come.
   * @param {WebSocket} socket
   * @param {string} reason
   */
  _drop(socket, reason) {
    socketDetach(socket);
    socket.close(CLIENT_GAVE_UP, reason);
    this._closed(socket, { code: CLIENT_GAVE_UP, reason });
  }

  /**
   * @param {WebSocket} socket
   * @param {{code: number, reason: string}} event
   */
  _closed(socket, event) {
    if (socket !== this._socket) return;
    this._socket = null;
    this._welcomed = false;
    clearTimeout(this._timer);
    clearInterval(this._pingTimer);
    const resend = [];
    for (const request of this._pending.values()) {
      if (IDEMPOTENT.has(String(request.frame.type)) && !request.internal) {
        resend.push(request);
      } else {
        clearTimeout(request.timer);
        const type = request.frame.type;
        request.reject(new MurrorError("disconnected", `the connection closed before ${type}'s reply`));
      }
    }
    this._pending.clear();
    this._queue = [...resend, ...this._queue];
    this._reconnect(event);
  }

  /** @param {{code: number, reason: string}} event */
  _reconnect(event) {
    // A draining pod (1012, 4012) is no sign of trouble with the service: retry promptly.
    if (event.code === SERVICE_RESTART || event.code === SERVICE_RESTART_APP) this._attempt = 0;
    const delay = backoffDelay(this._attempt, this._backoffBase, this._backoffCap, this._random);
    this._attempt += 1;
    this._urlIndex += 1;
    this.url = this.urls[this._urlIndex % this.urls.length];
    const state = this.connectionId === null ? "connecting" : "reconnecting";
    this._stateSet(state, { code: event.code, reason: event.reason, delay, url: this.url });
    this._timer = setTimeout(() => this._open(), delay);
  }

  /**
   * @param {ConnectionState} state
   * @param {Record<string, unknown>} detail
   */
  _stateSet(state, detail) {
    if (state === this.state) return;
    this.state = state;
    this._dispatch("state", state, detail);
  }

  /** @param {MurrorError} error */
  _emitError(error) {
    this._dispatch("error", error);
  }

  /**
   * @param {string} name
   * @param {...unknown} args
   */
  _dispatch(name, ...args) {
    for (const handler of [...(this._handlers.get(name) ?? [])]) {
      try {
        handler(...args);
      } catch (error) {
        // An app's handler must not break the connection; report it like an uncaught error.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/** @param {WebSocket} socket */
function socketDetach(socket) {
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = () => {};
}
