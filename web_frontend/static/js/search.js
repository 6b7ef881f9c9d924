// Message search: over all chats (sidebar) and within the open one (its header). Results
// show the matching words in <mark>, built from the server's offsets with DOM nodes only;
// choosing one opens its conversation at that message.
import { api } from "./api.js";
import { el } from "./dom.js";
import { dayLabel } from "./timeline.js";

const DEBOUNCE_MS = 250;
const PAGE_SIZE = 20;
const SNIPPET = 140;         // characters of a long message shown, around its first match
const SNIPPET_LEAD = 40;     // of which before the first match

// The text as nodes, with each [start, end) of `highlights` (offsets in code points, as the
// server counts characters) in a <mark>. A long text is cut around its first match.
export function markedText(text, highlights) {
  const all = Array.from(text);
  const from = all.length > SNIPPET
    ? Math.max(0, Math.min((highlights[0]?.[0] ?? 0) - SNIPPET_LEAD, all.length - SNIPPET)) : 0;
  const chars = all.slice(from, from + SNIPPET);
  const nodes = from > 0 ? ["…"] : [];
  let at = 0;
  for (const [start, end] of highlights.map(([s, e]) => [s - from, Math.min(e - from, chars.length)])) {
    if (start < at || end <= start) continue;
    if (start > at) nodes.push(chars.slice(at, start).join(""));
    nodes.push(el("mark", { text: chars.slice(start, end).join("") }));
    at = end;
  }
  if (at < chars.length) nodes.push(chars.slice(at).join(""));
  if (from + chars.length < all.length) nodes.push("…");
  return nodes;
}

// Today's results show the time; older ones the day as the timeline's separators name it.
function resultTime(iso) {
  const date = new Date(iso);
  const day = dayLabel(date);
  return day === "Today" ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : day;
}

function resultTitle(result) {
  const { conversation } = result;
  return conversation.title || (conversation.kind === "group" ? "Group" : "Chat");
}

class SearchBox {
  // `onActive(bool)`: whether results are showing; `onChoose(result)`: true when it took care
  // of the jump itself (the open conversation), else the result's link is followed.
  constructor({ input, results, conversationId = null, me, onActive = () => {}, onChoose = () => false }) {
    this.input = input;
    this.results = results;
    this.conversationId = conversationId;
    this.me = me;
    this.onActive = onActive;
    this.onChoose = onChoose;
    this.timer = null;
    this.generation = 0;   // answers to an older query are dropped
    this.list = el("ul", { className: "search-result-list", attrs: { "aria-label": "Search results, newest first" } });
    this.status = el("p", { className: "search-status", attrs: { role: "status" } });
    this.more = el("button", { className: "button button-small search-more", text: "More results",
      attrs: { type: "button", hidden: true } });
    this.results.replaceChildren(this.status, this.list, this.more);
    input.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(), DEBOUNCE_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.clear();
    });
    this.more.addEventListener("click", () => this.search({ before: this.nextBefore }));
  }

  clear() {
    clearTimeout(this.timer);
    this.generation += 1;
    this.input.value = "";
    this.show(false);
  }

  show(active) {
    this.results.hidden = !active;
    this.onActive(active);
  }

  async search({ before = null } = {}) {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    const generation = ++this.generation;
    if (!q) {
      this.show(false);
      return;
    }
    const params = new URLSearchParams({ q, limit: String(PAGE_SIZE) });
    if (this.conversationId) params.set("conversation_id", String(this.conversationId));
    if (before) params.set("before", String(before));
    if (!before) this.list.replaceChildren();
    this.status.textContent = "Searching…";
    this.more.hidden = true;
    this.show(true);
    let data;
    try {
      data = await api(`/api/search/messages?${params}`);
    } catch (error) {
      if (generation !== this.generation) return;
      this.status.textContent = error.status === 422 ? "Type a word to search for."
        : error.code === "offline" ? "Search needs a connection." : "Search failed. Try again.";
      return;
    }
    if (generation !== this.generation) return;
    this.list.append(...data.results.map((result) => this.item(result)));
    const count = this.list.children.length;
    this.status.textContent = count === 0 ? "No messages found."
      : `${count}${data.next_before ? "+" : ""} message${count === 1 ? "" : "s"} found`;
    this.nextBefore = data.next_before;
    this.more.hidden = !data.next_before;
  }

  item(result) {
    const { message } = result;
    // A line about a change to a group already names who did it: no sender for it.
    const who = message.kind === "system" ? null : message.sender.id === this.me.id ? "You" : message.sender.username;
    // Over all chats the title names the chat; the sender is added unless the title already says it.
    const senderShown = who && !this.conversationId && (result.conversation.kind === "group" || who === "You");
    const link = el("a", {
      className: "search-result",
      attrs: { href: `/chat/${message.conversation_id}?message=${message.id}` },
      dataset: { messageId: String(message.id), conversationId: String(message.conversation_id) },
    }, [
      el("span", { className: "search-result-top" }, [
        el("span", { className: "search-result-title", text: this.conversationId && who ? who : resultTitle(result) }),
        el("time", { className: "search-result-time", text: resultTime(message.created_at),
          attrs: { datetime: message.created_at } }),
      ]),
      el("span", { className: "search-result-text" }, [
        senderShown ? el("span", { className: "search-result-sender", text: `${who}: ` }) : null,
        ...markedText(message.text, result.highlights),
      ]),
    ]);
    link.addEventListener("click", (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
      if (this.onChoose(result)) event.preventDefault();
    });
    return el("li", {}, [link]);
  }
}

// Wires both search boxes of the chat page; `view` is the open conversation, if any.
export function startSearch({ me, view }) {
  const sidebar = document.querySelector(".sidebar");
  const jumpInOpenChat = (result) => {
    if (!view || result.message.conversation_id !== view.id) return false;
    view.reveal(result.message.id);
    return true;
  };
  const all = document.getElementById("search-all");
  if (all) {
    new SearchBox({ input: all, results: document.getElementById("search-all-results"), me,
      onActive: (active) => sidebar.classList.toggle("searching", active), onChoose: jumpInOpenChat });
  }
  if (view) {
    const toggle = document.getElementById("conversation-search-toggle");
    const panel = document.getElementById("conversation-search");
    const input = document.getElementById("search-conversation");
    const box = new SearchBox({ input, results: document.getElementById("search-conversation-results"), me,
      conversationId: view.id, onChoose: jumpInOpenChat });
    const open = (wanted) => {
      panel.hidden = !wanted;
      toggle.setAttribute("aria-expanded", String(wanted));
      toggle.textContent = wanted ? "Close" : "Search";
      if (wanted) input.focus();
      else box.clear();
    };
    toggle.addEventListener("click", () => open(panel.hidden));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") open(false);
    });
    // A result chosen in another chat opens this page at ?message=<id>.
    const target = Number(new URLSearchParams(location.search).get("message"));
    if (target > 0) {
      view.reveal(target);
      history.replaceState(history.state, "", location.pathname);
    }
  }
}
