// Entry point of every logged-in page: one socket, live header badge and presence,
// and on the chat pages the conversation list and the open conversation.
import { api } from "./api.js";
import { Attention, bindAttentionSettings } from "./attention.js";
import { ConversationView } from "./conversation.js";
import { BlockButton } from "./blocking.js";
import { bindAvatarForm } from "./avatar_form.js";
import { announce, directPartner, showNewAvatar } from "./dom.js";
import { isFriendsPage, refreshFriendsPage } from "./friends_page.js";
import { GroupPanel } from "./group_panel.js";
import { bindPaneActions } from "./pane_actions.js";
import { seedPresence, setPresence } from "./presence.js";
import { startSearch } from "./search.js";
import { Sidebar } from "./sidebar.js";
import { bindShortcuts } from "./keyboard.js";
import { connectSocket } from "./socket.js";
import { Timeline } from "./timeline.js";

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
  bindShortcuts();
  bindAttentionSettings();

  bindAvatarForm();

  connection.on("presence", ({ user_id: userId, online }) => setPresence(userId, online));
  connection.on("user_updated", ({ user }) => showNewAvatar(user));
  connection.on("friend_request", (request) => {
    // The count comes from the server, not +1: the catch-up on connecting may already include this one.
    refreshRequestBadge();
    announce(`New friend request from ${request.from.username}`);
    if (isFriendsPage()) refreshFriendsPage();
  });
  connection.on("friend_removed", ({ friend }) => setPresence(friend.id, false));
  connection.on("friend_request_cancelled", () => {
    refreshRequestBadge();
    if (isFriendsPage()) refreshFriendsPage();
  });

  if (!data) {
    const friendDots = document.querySelectorAll("[data-presence-user]");
    seedPresence([...friendDots].map((dot) => ({ id: Number(dot.dataset.presenceUser), online: dot.dataset.online === "true" })));
    const refreshLists = () => {
      refreshRequestBadge();
      if (isFriendsPage()) refreshFriendsPage();
    };
    connection.on("friend_added", refreshLists);
    connection.on("friend_removed", refreshLists);
    connection.on("block", refreshLists);
    // The first connect too: what happened between rendering the page and connecting had no event here.
    connection.onConnect(refreshLists);
    return;
  }

  seedPresence(data.friends);
  const openId = data.open ? data.open.conversation.id : null;
  let attention = null; // the sidebar renders (and reports totals) before attention exists
  const sidebar = new Sidebar({
    list: document.getElementById("conversation-list"),
    empty: document.getElementById("conversations-empty"),
    me: data.me,
    conversations: data.conversations,
    openId,
    onChange: () => attention?.updateTotal(),
  });
  attention = new Attention({ me: data.me, sidebar, openId });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") attention.onVisible();
  });

  const isFriend = (userId) => data.friends.some((f) => f.id === userId);
  let view = null;
  if (data.open) {
    const partner = directPartner(data.open.conversation, data.me);
    view = new ConversationView({
      root: document.querySelector(".pane"),
      connection,
      me: data.me,
      conversation: data.open.conversation,
      messages: data.open.messages,
      hasMore: data.open.has_more,
      onRead: (id) => sidebar.markRead(id),
      writable: partner ? isFriend(partner.id) : !data.open.conversation.read_only,
    });
    new Timeline({
      scroller: document.getElementById("message-scroller"),
      list: document.getElementById("message-list"),
      me: data.me,
      lastReadId: data.open.conversation.last_read_message_id,
      composer: document.getElementById("composer-text"),
    });
  }

  startSearch({ me: data.me, view });
  bindPaneActions();
  // Group members and settings, or blocking the other member of a direct chat, in the header.
  let groupPanel = null;
  let blockButton = null;
  const conversationChanged = (fields) => {
    sidebar.upsert(fields);
    if (view && fields.id === view.id) {
      view.updateConversation(fields);
      if (groupPanel) groupPanel.update(view.conversation);
    }
  };
  if (view && view.conversation.kind === "group") {
    groupPanel = new GroupPanel({ pane: document.querySelector(".pane"), me: data.me, conversation: view.conversation,
      friends: () => data.friends, onChange: conversationChanged });
    groupPanel.update(view.conversation);
  }
  // Blocking also unfriends: the chat turns read-only (unblocking does not make us friends again).
  const showBlocked = (blocked) => {
    view.updateConversation({ id: view.id, blocked });
    if (blocked) view.setWritable(false);
  };
  // Nobody is left to block or to be notified about: the header offers neither.
  const showPartnerDeleted = (partner) => {
    view.updateConversation({ id: view.id,
      members: view.conversation.members.map((m) => (m.id === partner.id ? partner : m)) });
    if (blockButton) blockButton.button.remove();
    attention.removeMuteToggle();
  };
  const partnerAtOpen = view && directPartner(view.conversation, data.me);
  if (partnerAtOpen?.deleted) attention.removeMuteToggle();
  else if (partnerAtOpen) {
    blockButton = new BlockButton({ pane: document.querySelector(".pane"), partner: partnerAtOpen,
      blocked: Boolean(view.conversation.blocked), onChange: showBlocked });
  }
  connection.on("conversation_updated", conversationChanged);
  // A new conversation, or a group I was added (back) to.
  connection.on("conversation", conversationChanged);
  // My other tabs blocked or unblocked someone.
  connection.on("block", ({ user, blocked }) => {
    const partner = partnerOfOpenChat();
    if (!blockButton || partner?.id !== user.id) return;
    blockButton.set(blocked);
    showBlocked(blocked);
  });

  connection.on("message", (message) => {
    const open = view && message.conversation_id === view.id;
    if (open) view.onMessage(message);
    sidebar.onMessage(message, { readingNow: open && document.visibilityState === "visible" });
    if (!open && message.sender.id !== data.me.id) announce(`New message from ${message.sender.username}`);
    attention.onMessage(message);
  });
  connection.on("typing", (event) => view && view.onTyping(event));
  connection.on("read", (event) => view && view.onReadEvent(event));
  connection.on("message_updated", (change) => {
    if (view) view.actions.onUpdated(change);
    sidebar.onMessageChanged(change.conversation_id, change.id, { text: change.text, edited_at: change.edited_at });
  });
  connection.on("message_deleted", (change) => {
    if (view) view.actions.onDeleted(change);
    sidebar.onMessageChanged(change.conversation_id, change.id, { text: "", deleted: true });
  });
  connection.on("reaction", (change) => view && view.actions.onReaction(change));
  // A direct conversation is writable exactly while its two members are friends.
  const partnerOfOpenChat = () => view && directPartner(view.conversation, data.me);
  connection.on("friend_removed", ({ friend }) => {
    data.friends = data.friends.filter((f) => f.id !== friend.id);
    if (partnerOfOpenChat()?.id === friend.id) {
      if (friend.deleted) showPartnerDeleted(friend);
      view.setWritable(false);
    }
    // A deleted account: its conversations now name "Deleted user".
    if (friend.deleted) sidebar.reload();
  });
  connection.on("friend_added", ({ friend, conversation_id: conversationId }) => {
    if (friend) {
      data.friends.push(friend);
      setPresence(friend.id, Boolean(friend.online));
      if (partnerOfOpenChat()?.id === friend.id) view.setWritable(true);
    }
    if (conversationId) sidebar.ensure(conversationId);
    refreshRequestBadge();
  });
  // Fetch what was missed: on every connect (a message sent between rendering the page and
  // connecting had no event here), when the server says its events may have been lost
  // ("resync"), or when a message shows one before it never came (previous_id).
  const resynchronise = () => {
    sidebar.reload();
    refreshRequestBadge();
    refreshFriends();
    if (view) {
      view.catchUp();
      // A group may have changed meanwhile (renamed, members, or I was removed); an answer
      // overtaken by a change seen here (an event, my own block) is stale.
      const changes = view.changes;
      api(`/api/conversations/${view.id}`).then(({ conversation }) => {
        if (view.changes === changes) conversationChanged(conversation);
      }, () => {});
    }
  };
  connection.onConnect(resynchronise);
  connection.on("resync", resynchronise);
  connection.on("message", (message) => {
    if (view && message.conversation_id === view.id && view.missedBefore(message)) view.catchUp();
  });

  // Friendships that changed while no events could reach this page.
  async function refreshFriends() {
    try {
      ({ friends: data.friends } = await api("/api/friends"));
    } catch {
      return; // offline again: the next connect retries
    }
    seedPresence(data.friends);
    const partner = partnerOfOpenChat();
    if (partner) view.setWritable(isFriend(partner.id));
  }
}

start();
