// The open conversation's actions (search, mute, members, block). On a phone they sit behind one
// "⋯" button so the conversation's name keeps the room; elsewhere app.css shows them in the header.
export function bindPaneActions() {
  const toggle = document.getElementById("conversation-actions-toggle");
  const menu = document.getElementById("conversation-actions");
  if (!toggle || !menu) return;
  const isOpen = () => menu.classList.contains("open");
  const setOpen = (open) => {
    menu.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", () => {
    setOpen(!isOpen());
    if (isOpen()) menu.querySelector(".button:not([hidden])")?.focus();
  });
  // An action chosen, a tap elsewhere or Esc closes it.
  menu.addEventListener("click", (event) => {
    if (event.target.closest(".button")) setOpen(false);
  });
  document.addEventListener("click", (event) => {
    if (isOpen() && !menu.contains(event.target) && !toggle.contains(event.target)) setOpen(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isOpen()) {
      setOpen(false);
      toggle.focus();
    }
  });
}
