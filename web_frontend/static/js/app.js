// Entry point of every logged-in page: one socket, live header badge and presence,
// and on the chat pages the conversation list and the open conversation.
import { api } from "./api.js";
import { ConversationView } from "./conversation.js";
import { announce } from "./dom.js";
import { seedPresence, setPresence } from "./presence.js";
import { Sidebar } from "./sidebar.js";
import { connectSocket } from "./socket.js";

function pageData() {
  const node = document.getElementById("page-data");
  return node ? JSON.parse(node.textContent) : null;
}

function setRequestBadge(count) {
  const badge = document.getElementById("request-badge");
  if (!badge) return;
  badge.textContent = String(count);
  badge.setAttribute("aria-label", `${count} friend requests`);
  badge.hidden = count === 0;
}

async function refreshRequestBadge() {
  try {
    const { requests } = await api("/api/friend-requests?direction=incoming");
    setRequestBadge(requests.length);
  } catch {
    // Keep the old count.
  }
}

function start() {
  const connection = connectSocket();
  const data = pageData();

  connection.on("presence", ({ user_id: userId, online }) => setPresence(userId, online));
  connection.on("friend_request", (request) => {
    const badge = document.getElementById("request-badge");
    setRequestBadge(Number(badge?.textContent || 0) + 1);
    const notice = document.getElementById("live-requests");
    if (notice) notice.hidden = false;
    announce(`New friend request from ${request.from.username}`);
  });

  if (!data) {
    const friendDots = document.querySelectorAll("[data-presence-user]");
    seedPresence([...friendDots].map((dot) => ({ id: Number(dot.dataset.presenceUser), online: dot.dataset.online === "true" })));
    connection.on("friend_added", () => refreshRequestBadge());
    connection.onReconnect(() => refreshRequestBadge());
    return;
  }

  seedPresence(data.friends);
  const openId = data.open ? data.open.conversation.id : null;
  const sidebar = new Sidebar({
    list: document.getElementById("conversation-list"),
    empty: document.getElementById("conversations-empty"),
    me: data.me,
    conversations: data.conversations,
    openId,
  });

  let view = null;
  if (data.open) {
    view = new ConversationView({
      root: document.querySelector(".pane"),
      connection,
      me: data.me,
      conversation: data.open.conversation,
      messages: data.open.messages,
      hasMore: data.open.has_more,
      onRead: (id) => sidebar.markRead(id),
    });
  }

  connection.on("message", (message) => {
    const open = view && message.conversation_id === view.id;
    if (open) view.onMessage(message);
    sidebar.onMessage(message, { readingNow: open && document.visibilityState === "visible" });
    if (!open && message.sender.id !== data.me.id) announce(`New message from ${message.sender.username}`);
  });
  connection.on("typing", (event) => view && view.onTyping(event));
  connection.on("read", (event) => view && view.onReadEvent(event));
  connection.on("conversation", (conversation) => sidebar.upsert(conversation));
  connection.on("friend_added", ({ friend, conversation_id: conversationId }) => {
    if (friend) setPresence(friend.id, Boolean(friend.online));
    if (conversationId) sidebar.ensure(conversationId);
    refreshRequestBadge();
  });
  // Fetch what was missed: after a reconnect, when the server says its events may have
  // been lost ("resync"), or when a message shows one before it never came (previous_id).
  const resynchronise = () => {
    sidebar.reload();
    refreshRequestBadge();
    if (view) view.catchUp();
  };
  connection.onReconnect(resynchronise);
  connection.on("resync", resynchronise);
  connection.on("message", (message) => {
    if (view && message.conversation_id === view.id && view.missedBefore(message)) view.catchUp();
  });
}

start();
