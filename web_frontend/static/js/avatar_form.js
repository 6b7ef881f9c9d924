// The account page's profile picture: uploaded to chat as soon as one is picked, or removed.
// Every avatar of mine on this page (and on my other pages, by the event) shows it at once.
import { api } from "./api.js";
import { showNewAvatar } from "./dom.js";

export function bindAvatarForm() {
  const form = document.getElementById("avatar-form");
  if (!form) return;
  const file = form.querySelector("#avatar-file");
  const remove = form.querySelector("#avatar-remove");
  const status = form.querySelector("#avatar-status");

  const change = async (request, done) => {
    file.disabled = remove.disabled = true;
    status.textContent = "Saving…";
    try {
      const { user } = await request();
      showNewAvatar(user);
      remove.hidden = !user.avatar_url;
      status.textContent = done;
    } catch (error) {
      status.textContent = error.message;
    } finally {
      file.disabled = remove.disabled = false;
      file.value = "";
      if (remove.hidden && document.activeElement === document.body) file.focus(); // it was on Remove
    }
  };

  file.addEventListener("change", () => {
    if (!file.files.length) return;
    const body = new FormData();
    body.append("file", file.files[0]);
    change(() => api("/api/me/avatar", { method: "PUT", body }), "Picture saved.");
  });
  remove.addEventListener("click", () => change(() => api("/api/me/avatar", { method: "DELETE" }), "Picture removed."));
}
