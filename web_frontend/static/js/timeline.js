// Reading a long conversation: day separators (Today, Yesterday, then the date in the user's
// locale), one name and time per run of messages from one sender, a "New messages" divider at
// the first message unread when the conversation opened, and a "jump to latest" button that
// counts the unread messages below what has been on screen. It watches the message list, so the
// conversation view needs no knowledge of it.
import { el } from "./dom.js";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const NEAR_BOTTOM_PX = 80;

const sameDay = (a, b) => a.toDateString() === b.toDateString();

export function dayLabel(date, now = new Date()) {
  if (sameDay(date, now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, yesterday)) return "Yesterday";
  const options = { weekday: "long", day: "numeric", month: "long" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return date.toLocaleDateString(undefined, options);
}

// When a message was sent (pending ones: now) and by whom, from the node the view rendered.
function facts(node) {
  const stamp = node.querySelector(".message-meta time")?.getAttribute("datetime");
  return { sender: node.dataset.senderId, at: stamp ? new Date(stamp) : new Date() };
}

const nearBottom = (scroller) => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;

// The newest message on screen now (0: none). What has been on screen counts as read, as in
// Slack or Element, so this is where the read marker goes.
export function lastVisibleId(scroller, list) {
  const shown = [...list.querySelectorAll(":scope > .message[data-id]")];
  if (nearBottom(scroller)) return Math.max(0, ...shown.map((node) => Number(node.dataset.id)));
  const bottom = scroller.getBoundingClientRect().bottom;
  const visible = shown.reverse().find((node) => node.getBoundingClientRect().bottom <= bottom + 1);
  return visible ? Number(visible.dataset.id) : 0;
}

export class Timeline {
  constructor({ scroller, list, me, lastReadId, composer }) {
    this.scroller = scroller;
    this.list = list;
    this.me = me;
    this.composer = composer;
    this.firstUnreadId = null;
    this.seenUpTo = lastReadId; // the newest message that has been on screen
    this.jump = el("button", { className: "button button-primary button-small jump-latest", attrs: { type: "button", hidden: true } });
    this.scroller.append(this.jump);
    this.jump.addEventListener("click", () => this.toLatest());
    this.scroller.addEventListener("scroll", () => this.updateJump());
    this.observer = new MutationObserver(() => this.refresh());

    // The divider marks what was unread on opening; it stays put while reading.
    const unread = this.messages().find((node) => Number(node.dataset.id) > lastReadId && node.dataset.senderId !== String(me.id));
    if (unread) this.firstUnreadId = Number(unread.dataset.id);
    // Until the reader is placed, where the list stands says nothing about what was read.
    this.opening = true;
    this.refresh();
    this.showFirstUnread();
    this.opening = false;
    this.updateJump();
  }

  messages() {
    return [...this.list.querySelectorAll(":scope > .message")];
  }

  nearBottom() {
    return nearBottom(this.scroller);
  }

  // Rebuilds separators and group marks after any change to the list.
  refresh() {
    this.observer.disconnect();
    const stick = this.nearBottom();
    for (const node of this.list.querySelectorAll(":scope > .day-divider, :scope > .unread-divider")) node.remove();
    let previous = null;
    const nodes = this.messages();
    nodes.forEach((node, index) => {
      const current = facts(node);
      if (!previous || !sameDay(previous.at, current.at)) {
        node.before(el("li", { className: "day-divider", text: dayLabel(current.at) }));
      }
      const isFirstUnread = this.firstUnreadId !== null && Number(node.dataset.id) === this.firstUnreadId;
      if (isFirstUnread) node.before(el("li", { className: "unread-divider", text: "New messages" }));
      const continued = Boolean(previous) && !isFirstUnread && previous.sender === current.sender
        && sameDay(previous.at, current.at) && current.at - previous.at < GROUP_WINDOW_MS;
      node.classList.toggle("continued", continued);
      const next = nodes[index + 1] ? facts(nodes[index + 1]) : null;
      const nextContinues = next && next.sender === current.sender && sameDay(current.at, next.at)
        && next.at - current.at < GROUP_WINDOW_MS && Number(nodes[index + 1].dataset.id) !== this.firstUnreadId;
      node.classList.toggle("group-inner", Boolean(nextContinues));
      previous = current;
    });
    if (stick) this.scroller.scrollTop = this.scroller.scrollHeight;
    this.updateJump();
    this.observer.observe(this.list, { childList: true });
  }

  // Messages from others (not lines about the group) below what has been on screen.
  unreadBelow() {
    if (!this.opening) this.seenUpTo = Math.max(this.seenUpTo, lastVisibleId(this.scroller, this.list));
    return this.messages().filter((node) => Number(node.dataset.id || 0) > this.seenUpTo
      && node.dataset.senderId !== String(this.me.id) && !node.classList.contains("system")).length;
  }

  updateJump() {
    const count = this.unreadBelow();
    this.jump.hidden = this.nearBottom();
    this.jump.textContent = count ? `↓ ${count} new message${count === 1 ? "" : "s"}` : "↓ Jump to latest";
  }

  toLatest() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.updateJump();
    this.composer?.focus();
  }

  // Opening a conversation with more unread than fits: start at the first unread one.
  showFirstUnread() {
    const divider = this.list.querySelector(":scope > .unread-divider");
    if (!divider) return;
    const top = divider.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top;
    if (top < 0) this.scroller.scrollTop += top - 8;
  }
}
