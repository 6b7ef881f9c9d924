// A group's members and settings, opened from the conversation header: the members with their
// roles, renaming, adding friends, removing members and making admins (admins only), leaving.
// The server tells every member what changed (`conversation_updated`); this panel redraws from it.
import { api } from "./api.js";
import { announce, avatar, el, memberCount } from "./dom.js";

export class GroupPanel {
  constructor({ pane, me, conversation, friends, onChange }) {
    this.me = me;
    this.conversation = conversation;
    this.friends = friends;         // () -> my friends now
    this.onChange = onChange;       // (conversation fields) -> the rest of the page follows
    this.toggle = el("button", { className: "button button-small", text: "Members",
      attrs: { type: "button", "aria-expanded": "false", "aria-controls": "group-panel" } });
    this.panel = el("section", { className: "group-panel", attrs: { id: "group-panel", "aria-label": "Group members and settings", hidden: true } });
    pane.querySelector(".pane-actions").append(this.toggle);
    pane.querySelector(".pane-head").after(this.panel);
    this.toggle.addEventListener("click", () => this.setOpen(this.panel.hidden));
    this.render();
  }

  setOpen(open) {
    this.panel.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) this.render();
  }

  update(conversation) {
    this.conversation = conversation;
    this.toggle.hidden = conversation.membership && conversation.membership !== "member";
    if (this.toggle.hidden) this.setOpen(false);
    if (!this.panel.hidden) this.render();
  }

  myRole() {
    return this.conversation.members.find((m) => m.id === this.me.id)?.role;
  }

  async act(request, done) {
    this.error.textContent = "";
    try {
      const result = await request();
      if (result && result.conversation) this.onChange(result.conversation);
      if (done) announce(done);
    } catch (error) {
      this.error.textContent = error.message;
    }
  }

  render() {
    const id = this.conversation.id;
    const admin = this.myRole() === "admin";
    this.error = el("p", { className: "field-error", attrs: { role: "alert" } });

    const titleInput = el("input", { attrs: { id: "group-rename-input", type: "text", maxlength: "100", required: true,
      value: this.conversation.title || "" } });
    const rename = el("form", { className: "group-row" }, [
      el("label", { text: "Group name", attrs: { for: "group-rename-input" } }),
      titleInput,
      el("button", { className: "button button-small", text: "Rename", attrs: { type: "submit" } }),
    ]);
    rename.addEventListener("submit", (event) => {
      event.preventDefault();
      this.act(() => api(`/api/conversations/${id}`, { method: "PATCH", body: { title: titleInput.value } })
        .catch((error) => {
          // The API names the field's rule; say it the way the New group form does.
          if (error.status !== 422) throw error;
          throw new Error(titleInput.value.trim().length > 100 ? "A group name can be at most 100 characters."
            : "Enter a group name.");
        }), "Group renamed");
    });

    const members = el("ul", { className: "group-members", attrs: { "aria-label": "Members" } },
      this.conversation.members.map((member) => this.memberRow(member, admin)));

    const memberIds = new Set(this.conversation.members.map((m) => m.id));
    const candidates = this.friends().filter((f) => !memberIds.has(f.id));
    let add = el("p", { className: "subtle", text: "All your friends are in this group." });
    if (candidates.length) {
      const picker = el("select", { attrs: { id: "group-add-select" } },
        candidates.map((f) => el("option", { text: f.username, attrs: { value: f.username } })));
      add = el("form", { className: "group-row" }, [
        el("label", { text: "Add a friend", attrs: { for: "group-add-select" } }),
        picker,
        el("button", { className: "button button-small", text: "Add", attrs: { type: "submit" } }),
      ]);
      add.addEventListener("submit", (event) => {
        event.preventDefault();
        const username = picker.value;
        this.act(() => api(`/api/conversations/${id}/members`, { method: "POST", body: { members: [username] } }),
          `${username} added`);
      });
    }

    const leave = el("button", { className: "button button-small button-danger", text: "Leave group",
      attrs: { type: "button" } });
    leave.addEventListener("click", () => this.act(() => api(`/api/conversations/${id}/leave`, { method: "POST" }),
      "You left the group"));

    this.panel.replaceChildren(
      el("h2", { className: "group-panel-title", text: memberCount(this.conversation.members.length) }),
      members, add, rename, this.error, leave);
  }

  memberRow(member, admin) {
    const id = this.conversation.id;
    const me = member.id === this.me.id;
    const actions = [];
    if (admin && !me && member.role !== "admin") {
      const promote = el("button", { className: "button button-ghost button-small", text: "Make admin",
        attrs: { type: "button", "aria-label": `Make admin: ${member.username}` } });
      promote.addEventListener("click", () => this.act(
        () => api(`/api/conversations/${id}/admins`, { method: "POST", body: { username: member.username } }),
        `${member.username} is now an admin`));
      actions.push(promote);
    }
    if (admin && !me) {
      const remove = el("button", { className: "button button-ghost button-small", text: "Remove",
        attrs: { type: "button", "aria-label": `Remove ${member.username}` } });
      remove.addEventListener("click", () => this.act(
        () => api(`/api/conversations/${id}/members/${encodeURIComponent(member.username)}`, { method: "DELETE" }),
        `${member.username} removed`));
      actions.push(remove);
    }
    return el("li", { className: "group-member", dataset: { username: member.username } }, [
      avatar(member.username, { user: member, className: "avatar avatar-sm" }),
      el("span", { className: "person-name", text: me ? `${member.username} (you)` : member.username }),
      member.role === "admin" ? el("span", { className: "tag", text: "Admin" }) : null,
      el("span", { className: "person-actions" }, actions),
    ]);
  }
}
