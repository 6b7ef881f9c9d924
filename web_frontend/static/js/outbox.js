// Messages on their way out. Written offline or while the page is still connecting, they wait
// here in the order written and go out one at a time, each attempt with the same client_id
// (the server answers a repeat with the stored message, never a second one). Only a real
// refusal (too long, not allowed...) gives up on a message; the user may then retry it.
import { api } from "./api.js";

const RETRY_MS = 3000;
// Socket answers that say nothing about the message itself: try REST, then wait.
const SOCKET_TRANSIENT = ["offline", "timeout", "unauthorized", "bad_ack"];

const isTransientHttp = (status) => status === 0 || status === 401 || status === 429 || status >= 500;

export class Outbox {
  constructor({ connection, conversationId, onSent, onRefused, onWaiting }) {
    this.connection = connection;
    this.conversationId = conversationId;
    this.onSent = onSent;
    this.onRefused = onRefused;
    this.onWaiting = onWaiting;
    this.queue = [];
    this.flushing = false;
    this.retryTimer = null;
    connection.onConnect(() => this.flush());
  }

  add(item) {
    this.queue.push(item);
    this.flush();
  }

  async flush() {
    if (this.flushing) return;
    this.flushing = true;
    clearTimeout(this.retryTimer);
    try {
      while (this.queue.length) {
        const item = this.queue[0];
        const result = await this.attempt(item);
        if (result.wait) {
          // Later messages wait behind this one so the order stays as written.
          for (const waiting of this.queue) this.onWaiting(waiting);
          this.retryTimer = setTimeout(() => this.flush(), RETRY_MS);
          return;
        }
        this.queue.shift();
        if (result.ok) this.onSent(item, result.message);
        else this.onRefused(item, result.error);
      }
    } finally {
      this.flushing = false;
    }
  }

  async attempt(item) {
    const body = { conversation_id: this.conversationId, text: item.text, client_id: item.clientId };
    if (item.attachmentIds?.length) body.attachment_ids = item.attachmentIds;
    if (item.replyTo) body.reply_to = item.replyTo;
    const result = await this.connection.emit("send", body);
    if (result.ok || !SOCKET_TRANSIENT.includes(result.error?.code)) return result;
    if (result.error.code === "unauthorized") this.connection.reconnect();
    try {
      const data = await api(`/api/conversations/${this.conversationId}/messages`, { method: "POST", body });
      return { ok: true, message: data.message };
    } catch (error) {
      if (isTransientHttp(error.status)) return { wait: true };
      return { ok: false, error: { code: error.code, message: error.message } };
    }
  }
}
