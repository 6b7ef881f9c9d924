// Block or unblock the other member of a direct conversation, from its header. Blocking also
// ends the friendship, so the conversation turns read-only (the page hears `friend_removed`).
import { api } from "./api.js";
import { announce, el } from "./dom.js";

export class BlockButton {
  constructor({ pane, partner, blocked, onChange }) {
    this.partner = partner;
    this.onChange = onChange;       // (blocked) -> the rest of the page follows
    this.button = el("button", { className: "button button-small", attrs: { type: "button" } });
    pane.querySelector(".pane-actions").append(this.button);
    this.button.addEventListener("click", () => this.toggle());
    this.set(blocked);
  }

  set(blocked) {
    this.blocked = blocked;
    this.button.textContent = blocked ? "Unblock" : "Block";
    this.button.setAttribute("aria-label", `${blocked ? "Unblock" : "Block"} ${this.partner.username}`);
  }

  async toggle() {
    // Decided now: the `block` event of this very change may arrive before the answer.
    const blocking = !this.blocked;
    const name = encodeURIComponent(this.partner.username);
    try {
      if (blocking) await api("/api/blocks", { method: "POST", body: { username: this.partner.username } });
      else await api(`/api/blocks/${name}`, { method: "DELETE" });
    } catch (error) {
      announce(error.message);
      return;
    }
    this.set(blocking);
    announce(blocking ? `You blocked ${this.partner.username}` : `You unblocked ${this.partner.username}`);
    this.onChange(blocking);
  }
}
