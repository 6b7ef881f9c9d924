// Keyboard use: Alt+Up/Down switches conversation, Ctrl+K (Cmd+K) goes to the conversation list,
// Alt+N or "/" goes to the composer, arrows move along the list, Esc closes the settings menu.

const isTyping = (target) => target instanceof HTMLElement
  && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

function conversationLinks() {
  return [...document.querySelectorAll("#conversation-list a")];
}

function visible(node) {
  return node && node.getClientRects().length > 0;
}

function switchConversation(step) {
  const links = conversationLinks();
  if (!links.length) return;
  const current = links.findIndex((link) => link.getAttribute("aria-current") === "page");
  const next = current === -1 ? (step > 0 ? 0 : links.length - 1) : current + step;
  if (next >= 0 && next < links.length) window.location.assign(links[next].href);
}

function focusList() {
  const links = conversationLinks();
  const target = links.find((link) => link.getAttribute("aria-current") === "page") || links[0];
  // On a phone the list is hidden while a conversation is open: go back to it.
  if (!visible(target)) {
    if (document.getElementById("conversation-list")) window.location.assign("/chat");
    return;
  }
  target.focus();
}

function closeMenus() {
  let closed = false;
  for (const menu of document.querySelectorAll("details[open].settings-menu")) {
    menu.open = false;
    menu.querySelector("summary").focus();
    closed = true;
  }
  return closed;
}

export function bindShortcuts() {
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && closeMenus()) {
      event.preventDefault();
      return;
    }
    if (event.altKey && !event.ctrlKey && !event.metaKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      switchConversation(event.key === "ArrowUp" ? -1 : 1);
    } else if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      focusList();
    } else if ((event.altKey && event.code === "KeyN") || (event.key === "/" && !isTyping(event.target)
               && !event.ctrlKey && !event.metaKey && !event.altKey)) {
      const composer = document.getElementById("composer-text");
      if (composer && !composer.disabled) {
        event.preventDefault();
        composer.focus();
      }
    }
  });

  // Up and down arrows walk the conversation list once it has focus.
  document.getElementById("conversation-list")?.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || !["ArrowUp", "ArrowDown"].includes(event.key)) return;
    const links = conversationLinks();
    const index = links.indexOf(document.activeElement);
    const next = links[index + (event.key === "ArrowUp" ? -1 : 1)];
    if (index !== -1 && next) {
      event.preventDefault();
      next.focus();
    }
  });

  // A click elsewhere closes the menu, as menus do.
  document.addEventListener("click", (event) => {
    for (const menu of document.querySelectorAll("details[open].settings-menu")) {
      if (!menu.contains(event.target)) menu.open = false;
    }
  });
}
