// One open conversation: history with paging, live messages, sending, typing and "seen".
import { api } from "./api.js";
import { AttachmentTray, attachmentSummary, attachmentsNode } from "./attachments.js";
import { announce, avatar, conversationTitle, directPartner, drawAvatar, el, memberCount, messageTime, newClientId } from "./dom.js";
import { loadDraft, saveDraft } from "./drafts.js";
import { linkify } from "./linkify.js";
import { MessageActions } from "./message_actions.js";
import { mentions, withMentions } from "./mentions.js";
import { Outbox } from "./outbox.js";
import { isOnline, onPresenceChange } from "./presence.js";
import { ReadMarkers } from "./seen.js";
import { lastVisibleId } from "./timeline.js";

// Links first (an address may hold an "@"), then mentions in the plain text between them.
const richText = (text) => linkify(text).flatMap(
  (node) => (node.nodeType === Node.TEXT_NODE ? withMentions(node.textContent) : [node]));

const PAGE_SIZE = 50;
const REVEAL_PAGE_SIZE = 100; // the most one history page holds
const TYPING_THROTTLE_MS = 2500;
const TYPING_SHOWN_MS = 4000;
const NEAR_BOTTOM_PX = 80;

export class ConversationView {
  constructor({ root, connection, me, conversation, messages, hasMore, onRead, writable }) {
    this.connection = connection;
    this.me = me;
    this.conversation = conversation;
    this.id = conversation.id;
    this.hasMore = hasMore;
    this.onRead = onRead;
    this.byId = new Map();       // message id -> <li>
    this.pending = new Map();    // client_id -> {text, node}
    this.markers = new ReadMarkers(conversation, me);
    this.lastReadSent = 0;
    this.lastTypingSent = 0;
    this.typers = new Map();     // username -> timer
    this.loadingOlder = null;    // the page of older messages being fetched

    this.scroller = root.querySelector("#message-scroller");
    this.list = root.querySelector("#message-list");
    this.empty = root.querySelector("#messages-empty");
    this.historyStatus = root.querySelector("#history-status");
    this.typing = root.querySelector("#typing-indicator");
    this.form = root.querySelector("#composer");
    this.input = root.querySelector("#composer-text");
    this.sendButton = root.querySelector(".send-button");
    this.readOnlyNotice = root.querySelector("#read-only-notice");
    this.root = root;
    this.writable = true;
    this.actions = new MessageActions(this);
    this.changes = 0;            // updates applied to `conversation`, so a late answer can be told stale
    this.outbox = new Outbox({
      connection,
      conversationId: this.id,
      onSent: (pending, message) => this.sent(pending, message),
      onRefused: (pending, error) => this.refused(pending, error),
      onWaiting: (pending) => this.waiting(pending),
    });
    this.tray = new AttachmentTray({ form: this.form, input: this.input, dropZone: root,
      onChange: () => this.updateSendButton() });

    this.renderHeader();
    onPresenceChange(() => this.renderHeader());
    for (const message of messages) this.add(message);
    // The id up to which nothing is missing: history pages have no gaps, live messages may.
    this.syncedUpTo = this.lastId();
    this.updateEmpty();
    this.updateHistoryStatus();
    this.scrollToBottom();
    this.bindEvents();
    this.input.value = loadDraft(me.id, this.id);
    this.autosize();
    this.setWritable(writable);
    // Typing was blocked until now (readonly in the page), so an early Enter is never lost.
    this.input.readOnly = false;
    this.fillViewport();
    // The first read goes out once the socket is up: opening a chat marks it read at once.
    connection.onConnect(() => this.markReadIfVisible());
    this.markReadIfVisible();
  }

  // ----- rendering -----
  renderHeader() {
    const root = this.root;
    const title = conversationTitle(this.conversation, this.me);
    const partner = directPartner(this.conversation, this.me);
    root.querySelector("#conversation-title").textContent = title;
    drawAvatar(root.querySelector("#conversation-avatar"), title, partner);
    const former = { left: "You left this group", removed: "You were removed from this group" };
    const subtitle = partner
      ? (partner.deleted ? "Account deleted" : this.conversation.blocked ? "Blocked" : !this.writable ? "Not friends" : isOnline(partner.id) ? "Online" : "Offline")
      : former[this.conversation.membership]
        || `${memberCount(this.conversation.members.length)} · ${this.conversation.members.map((m) => m.username).join(", ")}`;
    root.querySelector("#conversation-subtitle").textContent = subtitle;
    document.title = `${title} · Parley`;
  }

  messageNode(message, { mine, pending }) {
    // A line about a change to a group; a kind this page does not know still shows its text.
    if (message.kind && message.kind !== "text") {
      return el("li", { className: "message system", dataset: { id: String(message.id), kind: message.kind } }, [
        el("span", { className: "system-line", text: message.text }),
      ]);
    }
    const showSender = !mine && this.conversation.kind === "group";
    const status = el("span", { className: "message-status" });
    const node = el("li", { className: `message${mine ? " mine" : ""}${pending ? " pending" : ""}` }, [
      showSender ? el("div", { className: "message-byline" }, [
        avatar(message.sender.username, { user: message.sender, className: "avatar avatar-xs" }),
        el("span", { className: "message-sender", text: message.sender.username }),
      ]) : null,
      message.text || message.deleted ? el("div", { className: "bubble" }, richText(message.text)) : null,
      attachmentsNode(message.attachments),
      el("span", { className: "message-meta" }, [
        el("time", { text: message.created_at ? messageTime(message.created_at) : "",
          attrs: { datetime: message.created_at || null } }),
        status,
      ]),
    ]);
    if (message.id) node.dataset.id = String(message.id);
    node.dataset.senderId = String(message.sender.id);
    if (!mine && message.text && mentions(message.text, this.me.username)) node.classList.add("mentions-me");
    if (message.client_id) node.dataset.clientId = message.client_id;
    this.actions.decorate(node, message, { mine, pending });
    return node;
  }

  // Confirmed messages stay in id order; pending ones stay below them.
  insert(node, id) {
    let before = null;
    for (const child of this.list.children) {
      if (!child.classList.contains("message")) continue; // day and "New messages" separators
      const childId = Number(child.dataset.id || 0);
      if (!child.dataset.id || childId > id) { before = child; break; }
    }
    this.list.insertBefore(node, before);
  }

  add(message) {
    if (this.byId.has(message.id)) return false;
    const mine = message.sender.id === this.me.id && (!message.kind || message.kind === "text");
    const pending = mine && message.client_id ? this.pending.get(message.client_id) : null;
    if (pending) {
      this.confirm(pending, message);
      return true;
    }
    const node = this.messageNode(message, { mine, pending: false });
    this.byId.set(message.id, node);
    this.insert(node, message.id);
    if (mine) this.updateStatuses();
    return true;
  }

  // A message shown already, in a newer state (edited, deleted, reactions).
  replace(message) {
    const old = this.byId.get(message.id);
    if (!old) return;
    const fresh = this.messageNode(message, { mine: message.sender.id === this.me.id, pending: false });
    old.replaceWith(fresh);
    this.byId.set(message.id, fresh);
    this.updateStatuses();
  }

  confirm(pending, message) {
    this.pending.delete(message.client_id);
    const fresh = this.messageNode(message, { mine: true, pending: false });
    pending.node.replaceWith(fresh);
    this.byId.set(message.id, fresh);
    // The ack may arrive after later messages: put it where its id belongs.
    fresh.remove();
    this.insert(fresh, message.id);
    this.updateStatuses();
  }

  // Only my latest message carries a status line: Sending / Sent / Seen / Failed.
  updateStatuses() {
    const mine = [...this.list.querySelectorAll(".message.mine")];
    let latestConfirmed = null;
    for (const node of mine) {
      const status = node.querySelector(".message-status");
      if (node.classList.contains("failed")) continue;
      if (node.classList.contains("pending")) {
        status.textContent = node.classList.contains("queued") ? "Waiting for connection…" : "Sending…";
        continue;
      }
      status.textContent = "";
      status.classList.remove("seen");
      latestConfirmed = node;
    }
    if (latestConfirmed && !latestConfirmed.nextElementSibling?.classList.contains("pending")) {
      const status = latestConfirmed.querySelector(".message-status");
      const { text, seen } = this.markers.label(Number(latestConfirmed.dataset.id), this.conversation.kind);
      status.textContent = text;
      status.classList.toggle("seen", seen);
    }
  }

  updateEmpty() {
    this.empty.hidden = this.list.children.length > 0;
  }

  updateHistoryStatus() {
    if (this.loadingOlder) this.historyStatus.textContent = "Loading earlier messages…";
    else if (!this.hasMore && this.byId.size) this.historyStatus.textContent = "This is the beginning of the conversation.";
    else this.historyStatus.textContent = "";
  }

  firstId() {
    return Math.min(...this.byId.keys());
  }

  lastId() {
    return this.byId.size ? Math.max(...this.byId.keys()) : 0;
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // ----- user actions -----
  bindEvents() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      } else if (this.actions.onComposerKey(event)) {
        event.preventDefault();
      }
    });
    this.input.addEventListener("input", () => {
      this.autosize();
      saveDraft(this.me.id, this.id, this.input.value);
      const now = Date.now();
      if (this.input.value.trim() && now - this.lastTypingSent > TYPING_THROTTLE_MS) {
        this.lastTypingSent = now;
        this.connection.emit("typing", { conversation_id: this.id }, 3000);
      }
    });
    this.scroller.addEventListener("scroll", () => {
      if (this.scroller.scrollTop < NEAR_BOTTOM_PX) this.loadOlder();
      this.markReadIfVisible();
    });
    document.addEventListener("visibilitychange", () => this.markReadIfVisible());
    window.addEventListener("focus", () => this.markReadIfVisible());
  }

  // Grows with the text up to its CSS max-height; the newest messages stay in view as it grows.
  autosize() {
    const stick = this.nearBottom();
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight + 2}px`;
    if (stick) this.scrollToBottom();
  }

  // A direct conversation with someone who is no longer a friend (or whom I blocked), and a
  // group I left or was removed from, are read-only: say why, and take the composer away
  // instead of letting messages fail.
  setWritable(writable) {
    const stick = this.nearBottom(); // the notice takes room from the messages
    this.writable = writable;
    this.input.disabled = !writable;
    this.tray.setEnabled(writable);
    this.updateSendButton();
    this.readOnlyNotice.hidden = writable;
    this.readOnlyNotice.textContent = this.readOnlyReason();
    this.form.classList.toggle("read-only", !writable);
    this.renderHeader();
    if (stick) this.scrollToBottom();
  }

  readOnlyReason() {
    const { membership, blocked } = this.conversation;
    const partner = directPartner(this.conversation, this.me);
    if (membership === "removed") return "You were removed from this group. What was said until then stays here.";
    if (membership === "left") return "You left this group. What was said until then stays here.";
    if (partner?.deleted) return "This account was deleted. This conversation is read-only.";
    if (blocked && partner) return `You blocked ${partner.username}. This conversation is read-only.`;
    return "You are no longer friends. This conversation is read-only.";
  }

  // A group changed (title, members, roles) or I left it: `conversation_updated` fields.
  updateConversation(fields) {
    this.changes += 1;
    this.conversation = { ...this.conversation, ...fields };
    // A group is writable exactly while I am a member (a direct chat: while we are friends, app.js).
    if (this.conversation.kind === "group" && "read_only" in fields) this.setWritable(!fields.read_only);
    else this.renderHeader();
  }

  // Not while a file is still uploading: the message goes out with all of them.
  updateSendButton() {
    this.sendButton.disabled = !this.writable || this.tray.uploading;
  }

  submit() {
    const text = this.input.value;
    if (!this.writable) return;
    if (this.tray.uploading) {
      announce("Wait until the files have uploaded.");
      return;
    }
    if (!text.trim() && !this.tray.ready) return;
    const attachments = this.tray.take();
    this.input.value = "";
    saveDraft(this.me.id, this.id, "");
    this.autosize();
    this.input.focus();
    const clientId = newClientId();
    const replyTo = this.actions.takeReply();
    const node = this.messageNode({ text, client_id: clientId, sender: this.me, attachments, reply_to: replyTo },
      { mine: true, pending: true });
    const pending = { text, clientId, node, attachmentIds: attachments.map((a) => a.id),
      replyTo: replyTo ? replyTo.id : null };
    this.pending.set(clientId, pending);
    this.list.append(node);
    this.updateEmpty();
    this.updateStatuses();
    this.scrollToBottom();
    this.outbox.add(pending);
  }

  sent(pending, message) {
    if (!this.pending.has(pending.clientId)) return; // the live event confirmed it already
    this.confirm(pending, message);
    this.onRead(this.id);
  }

  waiting(pending) {
    if (!this.pending.has(pending.clientId)) return;
    pending.node.classList.add("queued");
    this.updateStatuses();
  }

  refused(pending, error) {
    if (!this.pending.has(pending.clientId)) return;
    if (error?.code === "forbidden") this.setWritable(false);
    // Whatever the server said about the size (or the page, before sending), the user reads this.
    const reason = error?.code === "payload_too_large" ? "message too large." : error?.message || "Not sent.";
    const { node } = pending;
    node.classList.remove("pending", "queued");
    node.classList.add("failed");
    const status = node.querySelector(".message-status");
    status.replaceChildren(`Not sent: ${reason}`);
    // The same message would be refused again (too long or too large, not allowed here): nothing to retry.
    if (!["validation_error", "forbidden", "payload_too_large"].includes(error?.code)) {
      const retry = el("button", { className: "retry-button", text: "Retry", attrs: { type: "button" } });
      status.append(" ", retry);
      retry.addEventListener("click", () => {
        node.classList.remove("failed");
        node.classList.add("pending");
        status.textContent = "Sending…";
        this.outbox.add(pending);
        this.input.focus();
      });
    }
    announce(`Message not sent: ${reason}`);
  }

  // ----- live events -----
  onMessage(message) {
    if (message.conversation_id !== this.id) return;
    const stick = this.nearBottom();
    if (!this.add(message)) return;
    this.updateEmpty();
    if (message.kind === "system") announce(message.text);
    else if (message.sender.id !== this.me.id) {
      this.stopTyping(message.sender.username);
      announce(`${message.sender.username}: ${message.text || attachmentSummary(message)}`);
    }
    if (stick || message.sender.id === this.me.id) this.scrollToBottom();
    this.markReadIfVisible();
  }

  onTyping({ conversation_id: conversationId, user }) {
    if (conversationId !== this.id || !user || user.id === this.me.id) return;
    clearTimeout(this.typers.get(user.username));
    this.typers.set(user.username, setTimeout(() => this.stopTyping(user.username), TYPING_SHOWN_MS));
    this.renderTyping();
  }

  stopTyping(username) {
    clearTimeout(this.typers.get(username));
    this.typers.delete(username);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typers.keys()];
    this.typing.textContent = names.length === 0 ? ""
      : names.length === 1 ? `${names[0]} is typing...` : `${names.join(", ")} are typing...`;
  }

  onReadEvent({ conversation_id: conversationId, user_id: userId, message_id: messageId }) {
    if (conversationId !== this.id) return;
    if (this.markers.move(userId, messageId)) this.updateStatuses();
  }

  // Up to the newest message on screen: what has been seen is read, the rest stays unread.
  markReadIfVisible() {
    if (document.visibilityState !== "visible") return;
    const last = lastVisibleId(this.scroller, this.list);
    if (!last || last <= this.lastReadSent) return;
    this.lastReadSent = last;
    this.connection.emit("read", { conversation_id: this.id, message_id: last }, 5000).then((ack) => {
      if (!ack.ok) this.lastReadSent = 0; // try again on the next chance
    });
    this.onRead(this.id);
  }

  // ----- history -----
  // One page older than what is shown; while one is loading, callers share it.
  loadOlder(limit = PAGE_SIZE) {
    if (!this.hasMore || !this.byId.size) return Promise.resolve();
    if (!this.loadingOlder) {
      this.loadingOlder = this.fetchOlder(limit);
      this.updateHistoryStatus();
    }
    return this.loadingOlder;
  }

  async fetchOlder(limit) {
    try {
      const data = await api(`/api/conversations/${this.id}/messages?before=${this.firstId()}&limit=${limit}`);
      const previousHeight = this.scroller.scrollHeight;
      const previousTop = this.scroller.scrollTop;
      for (const message of data.messages) this.add(message);
      this.hasMore = Boolean(data.has_more);
      this.scroller.scrollTop = previousTop + (this.scroller.scrollHeight - previousHeight);
    } catch {
      // Leave hasMore as it was; scrolling up again retries.
    } finally {
      this.loadingOlder = null;
      this.updateHistoryStatus();
    }
  }

  // Scroll to a message (a search result), loading older pages until it is there.
  async reveal(messageId) {
    while (!this.byId.has(messageId) && this.hasMore && this.byId.size && this.firstId() > messageId) {
      const before = this.byId.size;
      await this.loadOlder(REVEAL_PAGE_SIZE);
      if (this.byId.size === before) break;
    }
    const node = this.byId.get(messageId);
    if (!node) {
      announce("That message is no longer here.");
      return false;
    }
    for (const old of this.list.querySelectorAll(".jump-target")) old.classList.remove("jump-target");
    node.classList.add("jump-target");
    node.scrollIntoView({ block: "center" });
    return true;
  }

  // Short histories may not fill the screen, leaving nothing to scroll: load until they do.
  async fillViewport() {
    while (this.hasMore && this.scroller.scrollHeight <= this.scroller.clientHeight + NEAR_BOTTOM_PX) {
      const before = this.byId.size;
      await this.loadOlder();
      if (this.byId.size === before) break;
    }
  }

  // A live message whose previous_id we never got: something was missed (catchUp fetches it).
  // Otherwise it extends what is known to be complete.
  missedBefore(message) {
    const previous = message.previous_id;
    if (previous != null && previous > this.syncedUpTo) return true;
    this.syncedUpTo = Math.max(this.syncedUpTo, message.id);
    return false;
  }

  // After a reconnect, a resync or a gap: every message from the first one shown on, since
  // those shown may have been edited, deleted or reacted to meanwhile, and any new ones.
  async catchUp() {
    try {
      let after = this.byId.size ? this.firstId() - 1 : null;
      let hasMore = true;
      while (hasMore) {
        const query = after !== null ? `after=${after}&limit=100` : `limit=${PAGE_SIZE}`;
        const data = await api(`/api/conversations/${this.id}/messages?${query}`);
        const stick = this.nearBottom();
        for (const message of data.messages) {
          if (!this.add(message)) this.actions.update(message);
          this.syncedUpTo = Math.max(this.syncedUpTo, message.id);
          after = Math.max(after || 0, message.id);
        }
        this.updateEmpty();
        if (stick) this.scrollToBottom();
        hasMore = Boolean(after !== null && data.has_more && data.messages.length);
      }
      const { conversation } = await api(`/api/conversations/${this.id}`);
      if (this.markers.merge(conversation.read_markers)) this.updateStatuses();
      this.markReadIfVisible();
    } catch {
      // Still offline: the next reconnect catches up.
    }
  }
}
