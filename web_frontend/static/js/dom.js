// Small DOM helpers. User text only ever goes in through textContent.

export function el(tag, { className, text, attrs, dataset } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  Object.assign(node.dataset, dataset || {});
  for (const child of children) if (child) node.append(child);
  return node;
}

export function avatar(name, extraChildren = []) {
  const hue = [...name].reduce((sum, ch) => sum + ch.charCodeAt(0), 0) % 5;
  return el("span", { className: "avatar", text: name.slice(0, 1).toUpperCase(),
    attrs: { "aria-hidden": "true" }, dataset: { hue: String(hue) } }, extraChildren);
}

const sameDay = (a, b) => a.toDateString() === b.toDateString();

export function shortTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const now = new Date();
  if (sameDay(date, now)) return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (now - date < 6 * 86400000) return date.toLocaleDateString([], { weekday: "short" });
  return date.toLocaleDateString([], { day: "numeric", month: "short" });
}

export function messageTime(iso) {
  const date = new Date(iso);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return sameDay(date, new Date()) ? time : `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

export function conversationTitle(conversation, me) {
  if (conversation.kind === "group") return conversation.title || "Group";
  const other = conversation.members.find((m) => m.id !== me.id);
  return other ? other.username : conversation.title || "Just you";
}

export function directPartner(conversation, me) {
  if (conversation.kind !== "direct") return null;
  return conversation.members.find((m) => m.id !== me.id) || null;
}

export function memberCount(count) {
  return `${count} member${count === 1 ? "" : "s"}`;
}

export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function announce(text) {
  const region = document.getElementById("announcer");
  if (region) region.textContent = text;
}
