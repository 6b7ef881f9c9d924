// Who of my friends is online: seeded from GET /api/friends, kept live by `presence` events.

const online = new Map();
const listeners = new Set();

export function seedPresence(friends) {
  for (const friend of friends) online.set(friend.id, Boolean(friend.online));
  paint();
}

export function setPresence(userId, isOnline) {
  online.set(userId, Boolean(isOnline));
  paint();
  for (const listener of listeners) listener(userId, Boolean(isOnline));
}

export function isOnline(userId) {
  return online.get(userId) === true;
}

export function onPresenceChange(listener) {
  listeners.add(listener);
}

export function presenceDot(userId) {
  const dot = document.createElement("span");
  dot.className = "presence-dot";
  dot.dataset.presenceUser = String(userId);
  dot.dataset.online = String(isOnline(userId));
  return dot;
}

function paint() {
  for (const dot of document.querySelectorAll("[data-presence-user]")) {
    dot.dataset.online = String(isOnline(Number(dot.dataset.presenceUser)));
  }
}
