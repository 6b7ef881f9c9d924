// What can be done to a message in the open conversation: reply to it (and jump to what a
// reply quotes), react to it, and for my own, edit it in place or delete it. Live changes
// (`message_updated`, `message_deleted`, `reaction`) re-render the message they concern.
import { api } from "./api.js";
import { announce, el } from "./dom.js";

export const COMMON_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏"];
const EXCERPT_LENGTH = 100;
const HIGHLIGHT_MS = 2500;
const JUMP_PAGES = 200;

const excerpt = (text) => {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= EXCERPT_LENGTH ? line : `${line.slice(0, EXCERPT_LENGTH - 1)}…`;
};
const emojiPath = (id, emoji) => `/api/messages/${id}/reactions/${encodeURIComponent(emoji)}`;
const button = (className, text, label) =>
  el("button", { className, text, attrs: { type: "button", "aria-label": label || null, title: label || null } });

export class MessageActions {
  constructor(view) {
    this.view = view;
    this.me = view.me;
    this.messages = new Map(); // id -> the message as last known
    this.replyTo = null;       // the preview of the message my next one answers
    this.replyBar = el("div", { className: "reply-bar", attrs: { hidden: true, role: "status" } });
    view.form.before(this.replyBar);
  }

  // ----- rendering: called by ConversationView.messageNode for every message node -----
  decorate(node, message, { mine, pending }) {
    // A message of attachments only has no bubble: its parts go around the attachments.
    const bubble = node.querySelector(".bubble");
    const content = bubble || node.querySelector(".message-meta").previousElementSibling;
    if (message.reply_to) content.before(this.quote(message.reply_to));
    if (pending || !message.id) return;
    this.messages.set(message.id, message);
    if (message.deleted) {
      node.classList.add("deleted");
      bubble.replaceChildren(el("em", { text: "message deleted" }));
      node.querySelector(".attachments")?.remove();
      return;
    }
    if (message.edited_at) {
      node.querySelector(".message-meta time").after(el("span", { className: "edited", text: "(edited)",
        attrs: { title: `Edited ${new Date(message.edited_at).toLocaleString()}` } }));
    }
    if (message.reactions && message.reactions.length) node.querySelector(".message-meta").before(this.reactionRow(message));
    node.append(this.tools(message, mine));
    // Without a mouse to hover with, a tap on the message shows the tools.
    content.addEventListener("click", (event) => {
      if (!event.target.closest("a")) node.classList.toggle("tools-open");
    });
  }

  quote(preview) {
    const quote = button(`reply-quote${preview.deleted ? " deleted" : ""}`, "", `Go to the message from ${preview.sender.username}`);
    quote.append(el("span", { className: "reply-sender", text: preview.sender.username }),
      el("span", { className: "reply-excerpt", text: preview.deleted ? "message deleted" : preview.excerpt }));
    quote.addEventListener("click", () => this.jumpTo(preview.id));
    return quote;
  }

  reactionRow(message) {
    return el("div", { className: "reactions" }, message.reactions.map((reaction) => {
      const chip = button(`reaction${reaction.me ? " me" : ""}`, `${reaction.emoji} ${reaction.count}`,
        `${reaction.emoji} ${reaction.count}${reaction.me ? ", including you" : ""}`);
      chip.setAttribute("aria-pressed", String(Boolean(reaction.me)));
      chip.addEventListener("click", () => this.toggle(message.id, reaction.emoji));
      return chip;
    }));
  }

  tools(message, mine) {
    const tools = el("div", { className: "message-tools" });
    const reply = button("tool reply-button", "Reply");
    reply.addEventListener("click", () => this.startReply(message.id));
    const react = button("tool react-button", "React");
    react.addEventListener("click", () => this.togglePicker(tools, message.id));
    tools.append(reply, react);
    if (mine) {
      const edit = button("tool edit-button", "Edit");
      edit.addEventListener("click", () => this.startEdit(message.id));
      const remove = button("tool delete-button", "Delete");
      remove.addEventListener("click", () => this.confirmDelete(tools, message.id));
      tools.append(edit, remove);
    }
    return tools;
  }

  togglePicker(tools, id) {
    const open = tools.querySelector(".reaction-picker");
    if (open) {
      open.remove();
      return;
    }
    const picker = el("div", { className: "reaction-picker", attrs: { role: "group", "aria-label": "Pick a reaction" } },
      COMMON_EMOJI.map((emoji) => {
        const choice = button("pick", emoji, `React with ${emoji}`);
        choice.addEventListener("click", () => {
          picker.remove();
          this.toggle(id, emoji);
        });
        return choice;
      }));
    tools.append(picker);
    picker.querySelector("button").focus();
  }

  // ----- live changes and catch-up -----
  update(message) {
    const known = this.messages.get(message.id);
    if (known && JSON.stringify(known) === JSON.stringify({ ...known, ...message })) return;
    if (this.editing === message.id && !message.deleted) {
      this.messages.set(message.id, message); // shown when the edit ends
      return;
    }
    this.view.replace(message);
    this.refreshQuotesOf(message);
  }

  onUpdated({ id, conversation_id: conversationId, text, edited_at: editedAt }) {
    const known = conversationId === this.view.id && this.messages.get(id);
    if (known) this.update({ ...known, text, edited_at: editedAt });
  }

  onDeleted({ id, conversation_id: conversationId }) {
    const known = conversationId === this.view.id && this.messages.get(id);
    if (!known) return;
    if (this.editing === id) this.editing = null;
    if (this.replyTo && this.replyTo.id === id) this.cancelReply();
    this.update({ ...known, text: "", deleted: true, reactions: [] });
  }

  onReaction({ conversation_id: conversationId, message_id: id, reactions }) {
    const known = conversationId === this.view.id && this.messages.get(id);
    if (!known) return;
    this.update({ ...known, reactions: reactions.map((r) => ({ ...r, me: r.user_ids.includes(this.me.id) })) });
  }

  // Replies quoting a message that changed show its new excerpt (or that it was deleted).
  refreshQuotesOf(original) {
    for (const message of this.messages.values()) {
      if (!message.reply_to || message.reply_to.id !== original.id) continue;
      const preview = { ...message.reply_to, deleted: Boolean(original.deleted),
        excerpt: original.deleted ? "deleted" : excerpt(original.text) };
      if (JSON.stringify(preview) !== JSON.stringify(message.reply_to)) this.view.replace({ ...message, reply_to: preview });
    }
  }

  // ----- reactions -----
  async toggle(id, emoji) {
    const message = this.messages.get(id);
    if (!message) return;
    const mine = (message.reactions || []).some((r) => r.emoji === emoji && r.me);
    try {
      const { reactions } = await api(emojiPath(id, emoji), { method: mine ? "DELETE" : "PUT" });
      const current = this.messages.get(id);
      if (current && !current.deleted) this.update({ ...current, reactions });
    } catch (error) {
      announce(`Reaction not saved: ${error.message}`);
    }
  }

  // ----- replies -----
  startReply(id) {
    const message = this.messages.get(id);
    if (!message || message.deleted) return;
    this.replyTo = { id, sender: message.sender, excerpt: excerpt(message.text), deleted: false };
    const cancel = button("reply-cancel", "✕", "Cancel reply");
    cancel.addEventListener("click", () => this.cancelReply());
    this.replyBar.replaceChildren(
      el("span", { className: "reply-label" }, ["Replying to ", el("strong", { text: message.sender.username })]),
      el("span", { className: "reply-excerpt", text: this.replyTo.excerpt }),
      cancel,
    );
    this.replyBar.hidden = false;
    this.view.input.focus();
  }

  cancelReply() {
    this.replyTo = null;
    this.replyBar.hidden = true;
    this.replyBar.replaceChildren();
  }

  // The preview for the message being sent now; the composer is then free again.
  takeReply() {
    const preview = this.replyTo;
    this.cancelReply();
    return preview;
  }

  // Scrolls to the message a reply quotes, loading older pages until it is there.
  async jumpTo(id) {
    const view = this.view;
    for (let page = 0; page < JUMP_PAGES && !view.byId.has(id) && view.hasMore; page += 1) {
      const before = view.byId.size;
      await view.loadOlder();
      if (view.byId.size === before) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const node = view.byId.get(id);
    if (!node) {
      announce("That message is no longer there.");
      return;
    }
    node.scrollIntoView({ block: "center" });
    node.classList.add("highlight");
    node.setAttribute("tabindex", "-1");
    node.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove("highlight"), HIGHLIGHT_MS);
  }

  // ----- editing -----
  // Up in an empty composer edits my last message; Esc drops a reply being written.
  onComposerKey(event) {
    if (event.key === "ArrowUp" && !this.view.input.value && !event.shiftKey && !event.altKey) {
      const mine = [...this.messages.values()].filter((m) => m.sender.id === this.me.id && !m.deleted);
      if (!mine.length) return false;
      this.startEdit(Math.max(...mine.map((m) => m.id)));
      return true;
    }
    if (event.key === "Escape" && this.replyTo) {
      this.cancelReply();
      return true;
    }
    return false;
  }

  startEdit(id) {
    const message = this.messages.get(id);
    const node = this.view.byId.get(id);
    if (!message || !node || message.deleted) return;
    if (this.editing && this.editing !== id) this.stopEdit(this.editing);
    this.editing = id;
    const field = el("textarea", { className: "edit-text", attrs: { rows: "2", maxlength: "4000", "aria-label": "Edit message" } });
    field.value = message.text;
    const save = button("button button-primary button-small edit-save", "Save");
    const cancel = button("button button-small edit-cancel", "Cancel");
    const problem = el("p", { className: "edit-error", attrs: { role: "alert" } });
    const form = el("div", { className: "edit-form" }, [field, el("div", { className: "edit-actions" }, [
      el("span", { className: "subtle edit-help", text: "Enter saves · Esc cancels" }), cancel, save]), problem]);
    node.querySelector(".bubble").replaceWith(form);
    node.querySelector(".message-tools")?.remove();
    node.querySelector(".reactions")?.remove();
    const submit = () => this.saveEdit(id, field.value, problem);
    save.addEventListener("click", submit);
    cancel.addEventListener("click", () => this.stopEdit(id));
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        this.stopEdit(id);
      }
    });
    field.focus();
    field.setSelectionRange(field.value.length, field.value.length);
  }

  stopEdit(id) {
    if (this.editing === id) this.editing = null;
    const message = this.messages.get(id);
    if (message) this.view.replace(message);
    this.view.input.focus();
  }

  async saveEdit(id, text, problem) {
    if (!text.trim()) {
      problem.textContent = "A message cannot be empty; delete it instead.";
      return;
    }
    try {
      const { message } = await api(`/api/messages/${id}`, { method: "PATCH", body: { text } });
      // Shown whatever arrived meanwhile: the live event may have been kept while editing.
      this.editing = null;
      this.view.replace(message);
      this.refreshQuotesOf(message);
      this.view.input.focus();
    } catch (error) {
      problem.textContent = error.message;
    }
  }

  // ----- deleting -----
  confirmDelete(tools, id) {
    const ask = el("div", { className: "message-tools delete-confirm", attrs: { role: "group", "aria-label": "Delete this message?" } }, [
      el("span", { text: "Delete this message?" }),
      button("button button-small delete-yes", "Delete"),
      button("button button-small delete-no", "Keep"),
    ]);
    ask.querySelector(".delete-no").addEventListener("click", () => ask.replaceWith(this.tools(this.messages.get(id), true)));
    ask.querySelector(".delete-yes").addEventListener("click", async () => {
      try {
        await api(`/api/messages/${id}`, { method: "DELETE" });
        this.onDeleted({ id, conversation_id: this.view.id });
      } catch (error) {
        announce(`Not deleted: ${error.message}`);
      }
    });
    tools.replaceWith(ask);
    ask.querySelector(".delete-no").focus();
  }
}
