// The live feed: /ws/admin with the session cookie. On every (re)connect it resumes from
// the last message id it saw, so nothing is missed; views drop ids they already show.
// A frame holds one message, or several as {"type":"batch","events":[...]} (sent when they
// queued while the previous frame was still on its way): each is handled in order.

import { isUnmasked } from "./access.js";

export class Feed {
  // filters: sent as "subscribe" on every (re)connect, before "resume", so the server
  // filters the replay too; backlog: on the first connect, replay the last N stored turns.
  constructor(onState, { filters = null, backlog = 0 } = {}) {
    this.handlers = new Map();
    this.lastId = 0;
    this.filters = filters;
    this.backlog = backlog;
    this.onState = onState;
    this.delay = 500;
    this.socket = null;
    this.stopped = false;
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type).delete(handler);
  }

  start() {
    this.stopped = false;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const unmask = isUnmasked() ? "?unmask=true" : "";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/admin${unmask}`);
    this.socket = socket;
    socket.addEventListener("message", (event) => this.frame(JSON.parse(event.data)));
    socket.addEventListener("close", () => this.closed(socket));
  }

  stop() {
    this.stopped = true;
    this.socket?.close();
  }

  // Reconnect at once (masked or unmasked changed); resume fills in what was missed.
  restart() {
    const old = this.socket;
    this.socket = null;
    old?.close();
    this.start();
  }

  frame(message) {
    if (message.type !== "batch") return this.receive(message);
    for (const each of message.events) this.receive(each);
  }

  receive(message) {
    if (message.type === "welcome") {
      this.delay = 500;
      this.onState("live");
      if (this.filters) this.socket.send(JSON.stringify({ type: "subscribe", filters: this.filters }));
      if (this.lastId) this.socket.send(JSON.stringify({ type: "resume", since: this.lastId }));
      else {
        this.lastId = message.data.last_message_id;
        this.backlogUpTo = this.lastId;  // turns up to here are history, not news
        const since = Math.max(0, this.lastId - this.backlog);
        if (this.backlog && this.lastId) this.socket.send(JSON.stringify({ type: "resume", since }));
      }
      return;
    }
    if (message.type === "chat_update") this.lastId = Math.max(this.lastId, message.data.id);
    for (const handler of this.handlers.get(message.type) ?? []) handler(message.data);
  }

  closed(socket) {
    if (socket !== this.socket || this.stopped) return;
    this.onState("reconnecting");
    setTimeout(() => this.start(), this.delay);
    this.delay = Math.min(this.delay * 2, 5000);
  }
}
