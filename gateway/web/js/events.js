// The WebSocket: authenticated by a first message (browsers cannot set headers on a socket,
// and a key in the URL would reach access logs), reconnected with back-off when it drops.
// Events are notifications, not the record: after a reconnect each view re-reads over REST
// (`onReconnect`), so nothing a view shows is lost while the socket was down.

import { auth } from "./api.js";

export class Socket {
  constructor(path = "/ws", { onStatus = () => {} } = {}) {
    this.path = path;
    this.onStatus = onStatus;
    this.listeners = new Set();
    this.reconnectListeners = new Set();
    this.ws = null;
    this.closed = false;
    this.attempt = 0;
    this.everReady = false;
    this.pending = [];
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${typeof this.path === "function" ? this.path() : this.path}`;
  }

  open() {
    this.closed = false;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    this.onStatus("connecting");
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", key: auth.key() })));
    ws.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.type === "ready") {
        const again = this.everReady;
        this.everReady = true;
        this.attempt = 0;
        this.onStatus("live");
        for (const text of this.pending.splice(0)) ws.send(text);
        if (again) for (const listener of this.reconnectListeners) listener();
        return;
      }
      for (const listener of this.listeners) listener(event);
    });
    ws.addEventListener("close", (closing) => {
      if (this.ws !== ws || this.closed) return;
      if (closing.code === 1008) {
        this.onStatus(`refused: ${closing.reason || "invalid key"}`);
        return;  // a refused key will not be accepted on retry
      }
      this.onStatus("reconnecting");
      const delay = Math.min(10000, 500 * 2 ** this.attempt++);
      setTimeout(() => !this.closed && this.open(), delay);
    });
    return this;
  }

  send(message) {
    const text = JSON.stringify(message);
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.everReady) this.ws.send(text);
    else this.pending.push(text);
  }

  // `listener(event)` for every event; returns the function that removes it.
  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onReconnect(listener) {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
