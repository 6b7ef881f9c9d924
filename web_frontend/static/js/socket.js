// The one Socket.IO connection of a page: same origin (/socket.io/ through the gateway), cookie auth.
// Shows when it is offline, refreshes the access token once when the server refuses it,
// and tells listeners when it has come back so they can fetch what they missed.
import { goToLogin, refreshSession } from "./api.js";

const OFFLINE_LABEL_DELAY_MS = 1500;
// The server's limit for one event (MAX_CONTENT_LENGTH, docs/api.md "Limits"). A larger one is
// answered payload_too_large, and one over twice that closes the socket: refused here, unsent.
const MAX_EVENT_BYTES = 64 * 1024;
const encoder = new TextEncoder();

export function connectSocket() {
  const status = document.getElementById("connection-status");
  const socket = window.io({ path: "/socket.io/", withCredentials: true });
  const connectListeners = new Set();
  let refreshedForThisAttempt = false;
  let offlineTimer = null;

  function showStatus(state) {
    if (!status) return;
    clearTimeout(offlineTimer);
    if (state === "online") {
      status.hidden = true;
      status.textContent = "";
      return;
    }
    // A short blip (or the first connection) should not flash a warning.
    offlineTimer = setTimeout(() => {
      status.hidden = false;
      status.dataset.state = "offline";
      status.textContent = navigator.onLine === false ? "Offline" : "Reconnecting…";
    }, OFFLINE_LABEL_DELAY_MS);
  }

  async function reauthenticateAndConnect() {
    if (refreshedForThisAttempt) {
      goToLogin();
      return;
    }
    refreshedForThisAttempt = true;
    const outcome = await refreshSession();
    if (outcome === "denied") goToLogin();
    else if (outcome === "ok") socket.connect();
    else setTimeout(() => socket.connect(), 2000);
  }

  socket.on("connect", () => {
    refreshedForThisAttempt = false;
    showStatus("online");
    for (const listener of connectListeners) listener();
  });

  socket.on("connect_error", (error) => {
    showStatus("offline");
    if (error && error.message === "unauthorized") {
      reauthenticateAndConnect();
    } else if (!socket.active) {
      // Refused for another reason: the client will not retry on its own.
      setTimeout(() => socket.connect(), 3000);
    }
  });

  // The session ended (logout in another tab, "log out everywhere", a stolen refresh token
  // detected): the server says so and disconnects. Tabs of this browser share the session,
  // so the others follow too, also any that missed the event.
  const tabs = "BroadcastChannel" in window ? new BroadcastChannel("session") : null;
  // This page may be the one that ended the session (a "Log out" form on its way): its own
  // answer leads to the login page with the right message, so it must not be overtaken.
  let navigating = false;
  window.addEventListener("beforeunload", () => { navigating = true; });
  const leave = () => {
    socket.disconnect();
    if (!navigating) goToLogin();
  };
  socket.on("session_ended", () => {
    if (tabs) tabs.postMessage("ended");
    leave();
  });
  if (tabs) tabs.onmessage = (event) => event.data === "ended" && leave();

  socket.on("disconnect", (reason) => {
    showStatus("offline");
    // The server closed the socket (for example when the access token expired);
    // the client does not reconnect by itself after that.
    if (reason === "io server disconnect") reauthenticateAndConnect();
  });

  return {
    socket,
    on: (event, handler) => socket.on(event, handler),
    // Every connect, the first one included: catching up and sending what waited for the connection.
    onConnect: (listener) => connectListeners.add(listener),
    connected: () => socket.connected,
    reconnect: () => {
      socket.disconnect();
      refreshSession().then((outcome) => (outcome === "denied" ? goToLogin() : socket.connect()));
    },
    emit(event, data, timeoutMs = 8000) {
      return new Promise((resolve) => {
        // The bytes of the packet's JSON, within a few of what goes out (`42<ack id>` before it).
        if (encoder.encode(JSON.stringify([event, data])).length > MAX_EVENT_BYTES) {
          resolve({ ok: false, error: { code: "payload_too_large", message: "Message too large." } });
          return;
        }
        if (!socket.connected) {
          resolve({ ok: false, error: { code: "offline", message: "Not connected." } });
          return;
        }
        socket.timeout(timeoutMs).emit(event, data, (error, ack) => {
          if (error) resolve({ ok: false, error: { code: "timeout", message: "No answer from the server." } });
          else resolve(ack && typeof ack === "object" ? ack : { ok: false, error: { code: "bad_ack", message: "Unexpected answer." } });
        });
      });
    },
  };
}
