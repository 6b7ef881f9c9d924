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

// Avatars: the user's picture, else the initial of `name`. A node that shows a user carries
// their id, so a new picture (`user_updated`) is drawn on every one on the page at once.
const avatarUrls = new Map(); // user id -> the newest avatar_url heard of here (null: none)

export function avatar(name, { user = null, children = [], className = "avatar" } = {}) {
  const node = el("span", { className, attrs: { "aria-hidden": "true" } }, children);
  drawAvatar(node, name, user);
  return node;
}

export function drawAvatar(node, name, user) {
  node.dataset.hue = String([...name].reduce((sum, ch) => sum + ch.charCodeAt(0), 0) % 5);
  node.dataset.initial = name.slice(0, 1).toUpperCase();
  if (user) node.dataset.userId = String(user.id);
  else delete node.dataset.userId;
  drawFace(node, user && !user.deleted ? (avatarUrls.has(user.id) ? avatarUrls.get(user.id) : user.avatar_url) : null);
}

function drawFace(node, url) {
  node.querySelector(":scope > .avatar-face")?.remove();
  node.prepend(url ? el("img", { className: "avatar-face", attrs: { src: url, alt: "" } })
    : el("span", { className: "avatar-face", text: node.dataset.initial }));
}

export function showNewAvatar(user) {
  avatarUrls.set(user.id, user.avatar_url);
  for (const node of document.querySelectorAll(`.avatar[data-user-id="${user.id}"]`)) drawFace(node, user.avatar_url);
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
