// The conversation list: newest activity first, last message preview, unread badge, online dot.
import { api } from "./api.js";
import { attachmentSummary } from "./attachments.js";
import { avatar, conversationTitle, directPartner, el, shortTime } from "./dom.js";
import { mentions } from "./mentions.js";
import { isOnline, presenceDot } from "./presence.js";

const activity = (c) => Date.parse((c.last_message && c.last_message.created_at) || c.created_at) || 0;

export class Sidebar {
  constructor({ list, empty, me, conversations, openId, onChange }) {
    this.list = list;
    this.onChange = onChange || (() => {});
    this.empty = empty;
    this.me = me;
    this.openId = openId;
    this.conversations = new Map(conversations.map((c) => [c.id, c]));
    this.render();
  }

  has(conversationId) {
    return this.conversations.has(conversationId);
  }

  get(conversationId) {
    return this.conversations.get(conversationId);
  }

  upsert(conversation) {
    const known = this.conversations.get(conversation.id);
    this.conversations.set(conversation.id, { ...known, ...conversation });
    this.render();
  }

  async ensure(conversationId) {
    if (this.has(conversationId)) return;
    try {
      const { conversation } = await api(`/api/conversations/${conversationId}`);
      this.upsert(conversation);
    } catch {
      // It will appear on the next reload; nothing to show the user here.
    }
  }

  // A new message anywhere: move its conversation to the top, update preview and unread count.
  onMessage(message, { readingNow }) {
    const conversation = this.conversations.get(message.conversation_id);
    if (!conversation) {
      this.ensure(message.conversation_id);
      return;
    }
    const last = conversation.last_message;
    if (!last || last.id < message.id) conversation.last_message = message;
    // A system line (renamed, added, left) is news in the list but not something to read.
    const counts = message.kind !== "system" && message.sender.id !== this.me.id;
    if (counts && !readingNow && (!last || last.id < message.id)) {
      conversation.unread_count = (conversation.unread_count || 0) + 1;
      if (conversation.kind === "group" && mentions(message.text || "", this.me.username)) {
        conversation.unread_mentions = (conversation.unread_mentions || 0) + 1;
      }
    }
    this.render();
  }

  // A message edited or deleted: the preview follows when it is the last one. A deleted
  // message no longer counts as unread, and only the server knows whether it did.
  onMessageChanged(conversationId, id, changes) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    if (conversation.last_message && conversation.last_message.id === id) {
      conversation.last_message = { ...conversation.last_message, ...changes };
      this.render();
    }
    if (changes.deleted && conversation.unread_count && conversationId !== this.openId) this.reload();
  }

  markRead(conversationId) {
    const conversation = this.conversations.get(conversationId);
    if (conversation && conversation.unread_count) {
      conversation.unread_count = 0;
      conversation.unread_mentions = 0;
      this.render();
    }
  }

  async reload() {
    try {
      const { conversations } = await api("/api/conversations");
      this.conversations = new Map(conversations.map((c) => [c.id, c]));
      if (this.openId) this.markRead(this.openId);
      this.render();
    } catch {
      // Offline again; the next reconnect reloads.
    }
  }

  render() {
    const sorted = [...this.conversations.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id);
    const focused = this.list.contains(document.activeElement)
      ? document.activeElement.closest("[data-conversation-id]").dataset.conversationId : null;
    this.list.replaceChildren(...sorted.map((c) => this.item(c)));
    if (focused) this.list.querySelector(`[data-conversation-id="${focused}"] a`)?.focus();
    this.empty.hidden = sorted.length > 0;
    this.onChange();
  }

  item(conversation) {
    const title = conversationTitle(conversation, this.me);
    const partner = directPartner(conversation, this.me);
    const last = conversation.last_message;
    const unread = conversation.id === this.openId ? 0 : conversation.unread_count || 0;
    let preview = "No messages yet";
    if (last) {
      // A system line already names who did it.
      const who = last.kind === "system" ? "" : last.sender.id === this.me.id ? "You: "
        : conversation.kind === "group" ? `${last.sender.username}: ` : "";
      preview = who + (last.deleted ? "message deleted" : last.text.replace(/\s+/g, " ") || attachmentSummary(last));
    }
    // Said after the visible text, so the link's name starts with what is on screen.
    const status = [partner && isOnline(partner.id) ? "online" : null, conversation.muted ? "muted" : null,
      unread ? `${unread} unread` : null].filter(Boolean).join(", ");
    const link = el("a", {
      attrs: { href: `/chat/${conversation.id}`, "aria-current": conversation.id === this.openId ? "page" : null },
    }, [
      avatar(title, { user: partner, children: partner ? [presenceDot(partner.id)] : [] }),
      el("span", { className: "conversation-body" }, [
        el("span", { className: "conversation-top" }, [
          el("span", { className: "conversation-name", text: title }),
          conversation.muted ? el("span", { className: "muted-mark", text: "🔕", attrs: { "aria-hidden": "true" } }) : null,
          el("time", { className: "conversation-time", text: shortTime(last ? last.created_at : conversation.created_at),
            attrs: { datetime: last ? last.created_at : conversation.created_at } }),
        ]),
        el("span", { className: "conversation-bottom" }, [
          el("span", { className: "conversation-preview", text: preview }),
          unread ? el("span", { className: "badge", text: String(unread), attrs: { "aria-hidden": "true" } }) : null,
        ]),
      ]),
      status ? el("span", { className: "sr-only", text: `, ${status}` }) : null,
    ]);
    // Muted and nothing for me in it: its unread messages can wait, and look it.
    const quiet = unread && conversation.muted && !conversation.unread_mentions;
    return el("li", { className: `conversation-item${unread ? " unread" : ""}${quiet ? " quiet" : ""}`,
      dataset: { conversationId: String(conversation.id) } }, [link]);
  }
}
