/**
 * A WebSocket stand-in for the client's unit tests: the test plays the server, frame by frame.
 * @module fake-socket
 */

/** A WebSocket class whose instances are recorded, so a test can reach each socket it opened. */
export function fakeWebSocketClass() {
  /** @type {FakeSocket[]} */
  const sockets = [];

  class FakeSocket {
    /**
     * @param {string} url
     * @param {string | string[]} [protocols]
     */
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      /** @type {Record<string, any>[]} frames the client sent, parsed */
      this.sent = [];
      /** @type {{code: number, reason: string} | null} */
      this.closedByClient = null;
      /** @type {((event: {data: string}) => void) | null} */
      this.onmessage = null;
      /** @type {((event: {code: number, reason: string}) => void) | null} */
      this.onclose = null;
      this.onerror = null;
      sockets.push(this);
    }

    /** @param {string} text */
    send(text) {
      this.sent.push(JSON.parse(text));
    }

    /**
     * @param {number} code
     * @param {string} reason
     */
    close(code, reason) {
      this.closedByClient = { code, reason };
    }

    /** @param {Record<string, unknown>} frame a frame from the "server" */
    deliver(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }

    /** @param {string} pod */
    welcome(pod) {
      this.deliver({ type: "welcome", connection_id: `c-${pod}`, pod, layer: "memory" });
    }

    /** Answer every request sent so far the way a server would, for join/leave/emit/ping. */
    answerAll() {
      const replies = { join: "joined", leave: "left", emit: "ack", ping: "pong" };
      for (const frame of this.sent.splice(0)) {
        this.deliver({ type: replies[frame.type], room: frame.room, id: frame.id });
      }
    }

    /** @param {number} code */
    serverClose(code) {
      this.onclose?.({ code, reason: "" });
    }
  }

  return { FakeSocket, sockets };
}

/**
 * Poll until `check()` is truthy (the client works on timers); fail after `timeout` ms.
 * @template T
 * @param {() => T} check
 * @param {string} what
 * @param {number} [timeout]
 * @returns {Promise<T>}
 */
export async function eventually(check, what, timeout = 2000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const result = check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
