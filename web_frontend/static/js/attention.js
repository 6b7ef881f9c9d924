// Getting the user's attention: desktop notifications, an optional sound, the unread total in
// the tab title and on the favicon, and muting a conversation (kept by the server per member).
import { api } from "./api.js";
import { conversationTitle } from "./dom.js";
import { mentions } from "./mentions.js";

const SOUND_KEY = "parley.sound";
const PREVIEW_CHARS = 120;

function stored(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage blocked: the setting lasts for this page only.
  }
}

// A short two-note chime made by WebAudio, so there is no file to fetch. The context is created
// on the click that turns sound on: browsers only let a page make sound after a user gesture.
class Chime {
  constructor() {
    this.context = null;
  }

  unlock() {
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!this.context && AudioContext) this.context = new AudioContext();
    this.context?.resume?.();
  }

  play() {
    this.unlock();
    const context = this.context;
    if (!context) return;
    const start = context.currentTime;
    [880, 1320].forEach((frequency, index) => {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + index * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.15, start + index * 0.12 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + index * 0.12 + 0.25);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start + index * 0.12);
      oscillator.stop(start + index * 0.12 + 0.3);
    });
  }
}

const chime = new Chime();

// "(3) Chats · Parley" and a badge drawn over our own favicon. The conversation view also sets
// the title, so the count is put back whenever the title changes.
class UnreadBadge {
  constructor() {
    this.count = 0;
    this.icon = document.querySelector("link[rel=icon]");
    this.plainIcon = this.icon?.href;
    this.image = null;
    const title = document.querySelector("title");
    if (title) new MutationObserver(() => this.applyTitle()).observe(title, { childList: true, characterData: true, subtree: true });
  }

  set(count) {
    if (count === this.count) return;
    this.count = count;
    this.applyTitle();
    this.drawIcon();
  }

  applyTitle() {
    const plain = document.title.replace(/^\(\d+\+?\) /, "");
    const wanted = this.count ? `(${this.count > 99 ? "99+" : this.count}) ${plain}` : plain;
    if (document.title !== wanted) document.title = wanted;
  }

  async drawIcon() {
    if (!this.icon) return;
    if (!this.count) {
      this.icon.href = this.plainIcon;
      this.icon.type = "image/svg+xml";
      return;
    }
    if (!this.image) {
      this.image = new Image();
      this.image.src = this.plainIcon;
      try {
        await this.image.decode();
      } catch {
        this.image = null;
        return;
      }
    }
    const count = this.count;
    const size = 64;
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = size;
    const context = canvas.getContext("2d");
    context.drawImage(this.image, 0, 0, size, size);
    context.fillStyle = "#dc2626";
    context.beginPath();
    context.arc(size * 0.7, size * 0.3, size * 0.3, 0, 2 * Math.PI);
    context.fill();
    context.fillStyle = "#ffffff";
    context.font = `bold ${count > 9 ? 22 : 30}px system-ui, sans-serif`;
    context.textAlign = "center";
    context.textBaseline = "middle";
    context.fillText(count > 99 ? "99+" : String(count), size * 0.7, size * 0.32);
    if (count !== this.count) return; // changed while the image loaded; the newer call draws
    this.icon.type = "image/png";
    this.icon.href = canvas.toDataURL("image/png");
  }
}

// The settings menu's notification and sound controls, on every logged-in page.
export function bindAttentionSettings() {
  const row = document.getElementById("notification-settings");
  const prompt = document.getElementById("notify-prompt");
  const buttons = [...document.querySelectorAll("[data-enable-notifications]")];
  const states = [...document.querySelectorAll("[data-notification-state]")];
  // `asked`: the browser answered a request just now, so "not enabled" says what to do.
  const render = (asked = false) => {
    const supported = "Notification" in window;
    const permission = supported ? Notification.permission : "unsupported";
    if (row) row.hidden = false;
    // Just refused: the prompt stays to say so (without its button); on the next page it is gone.
    if (prompt) prompt.hidden = permission !== "default" && !(asked && permission === "denied");
    for (const button of buttons) button.hidden = permission !== "default";
    const text = permission === "granted" ? "Desktop notifications are on."
      : permission === "denied" ? "Notifications are blocked in this browser's settings."
        : permission === "unsupported" ? "This browser cannot show notifications."
          : asked ? "Notifications are not enabled: allow them when the browser asks." : "Notifications are not enabled.";
    // The settings line always; the list's prompt only once it was used, so it stays short until then.
    for (const state of states) {
      if (asked || !state.closest("#notify-prompt")) state.textContent = text;
    }
  };
  // Asked only on this click, never on load: browsers ignore or penalise unprompted requests.
  for (const button of buttons) {
    button.addEventListener("click", async () => {
      try {
        await Notification.requestPermission();
      } finally {
        render(true);
      }
    });
  }
  render();

  const sound = document.getElementById("sound-toggle");
  if (sound) {
    sound.checked = stored(SOUND_KEY) === "on";
    sound.addEventListener("change", () => {
      store(SOUND_KEY, sound.checked ? "on" : null);
      if (sound.checked) chime.unlock();
    });
  }
}

export class Attention {
  constructor({ me, sidebar, openId }) {
    this.me = me;
    this.sidebar = sidebar;
    this.openId = openId;
    this.badge = new UnreadBadge();
    this.unseenWhileHidden = 0; // messages that came to the open conversation while the page was hidden
    this.bindMuteToggle();
    this.updateTotal();
  }

  // ----- mute (per member, on the server) -----
  bindMuteToggle() {
    const actions = document.querySelector(".pane-actions");
    if (!actions || !this.openId) return;
    this.muteButton = document.createElement("button");
    this.muteButton.type = "button";
    this.muteButton.className = "button button-ghost button-small mute-toggle";
    actions.append(this.muteButton);
    this.muteButton.addEventListener("click", () => this.toggleMute());
    this.renderMute();
  }

  removeMuteToggle() {
    this.muteButton?.remove();
    this.muteButton = null;
  }

  renderMute() {
    if (!this.muteButton) return;
    const muted = Boolean(this.sidebar.get(this.openId)?.muted);
    this.muteButton.textContent = muted ? "🔕 Muted" : "🔔 Mute";
    this.muteButton.setAttribute("aria-pressed", String(muted));
    this.muteButton.title = muted ? "Notifications off, except when you are mentioned" : "Turn notifications off";
  }

  async toggleMute() {
    const muted = Boolean(this.sidebar.get(this.openId)?.muted);
    this.muteButton.disabled = true;
    try {
      const { conversation } = await api(`/api/conversations/${this.openId}/mute`, { method: muted ? "DELETE" : "PUT" });
      this.sidebar.upsert(conversation);
    } catch {
      // Nothing changed on the server; the button keeps showing the truth.
    } finally {
      this.muteButton.disabled = false;
      this.renderMute();
    }
  }

  // ----- totals: title and favicon -----
  // A muted conversation counts only its mentions of me (they notify, so they count); the
  // list's own badges still show all its unread messages.
  updateTotal() {
    let total = 0;
    for (const conversation of this.sidebar.conversations.values()) {
      if (conversation.id === this.openId) continue;
      total += (conversation.muted ? conversation.unread_mentions : conversation.unread_count) || 0;
    }
    if (document.visibilityState !== "visible") total += this.unseenWhileHidden;
    this.badge.set(total);
    this.renderMute();
  }

  // ----- a new message -----
  onMessage(message) {
    if (message.sender.id === this.me.id) return;
    const conversation = this.sidebar.get(message.conversation_id);
    if (!conversation) return;
    const onScreen = message.conversation_id === this.openId && document.visibilityState === "visible";
    if (message.conversation_id === this.openId && !onScreen) {
      this.unseenWhileHidden += 1;
      this.updateTotal();
    }
    const mentioned = conversation.kind === "group" && mentions(message.text || "", this.me.username);
    if (onScreen || (conversation.muted && !mentioned)) return;
    if (stored(SOUND_KEY) === "on") chime.play();
    this.notify(message, conversation, mentioned);
  }

  // The page came back: what was on screen has been seen.
  onVisible() {
    this.unseenWhileHidden = 0;
    this.updateTotal();
  }

  notify(message, conversation, mentioned) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const place = conversationTitle(conversation, this.me);
    const title = conversation.kind === "group"
      ? `${message.sender.username}${mentioned ? " mentioned you" : ""} in ${place}` : message.sender.username;
    const text = (message.text || "").replace(/\s+/g, " ").trim() || "Sent an attachment";
    const body = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text;
    const notification = new Notification(title, {
      body,
      tag: `conversation-${conversation.id}`,
      icon: this.badge.plainIcon,
    });
    notification.addEventListener("click", () => {
      window.focus();
      notification.close();
      if (conversation.id !== this.openId) window.location.assign(`/chat/${conversation.id}`);
    });
  }
}
