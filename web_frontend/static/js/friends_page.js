// The Friends page keeps itself current. When a request arrives, is accepted, or a friendship
// ends, the page is rendered again by the server (a plain GET of /friends) and its lists are
// swapped in place, leaving what the user is typing alone (search box, group name, ticks).
const LIVE_PARTS = ["search-results", "incoming-requests", "outgoing-requests", "friends-list", "blocked-list"];

let refreshing = null;
let again = false;

export function isFriendsPage() {
  return document.getElementById("friends-list") !== null;
}

export function refreshFriendsPage() {
  // Events come in bursts (an accept tells both sides): one fetch at a time, one more after it.
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = swapInFreshLists().finally(() => {
    refreshing = null;
    if (again) {
      again = false;
      refreshFriendsPage();
    }
  });
  return refreshing;
}

async function swapInFreshLists() {
  let html;
  try {
    // Always the Friends page itself: a refused group form is shown at its own (POST-only) address.
    const response = await fetch(`/friends${location.pathname === "/friends" ? location.search : ""}`,
      { credentials: "same-origin", headers: { Accept: "text/html", "X-Live-Refresh": "1" } });
    if (!response.ok || response.redirected) return;
    html = await response.text();
  } catch {
    return; // offline: the next event or reconnect tries again
  }
  const fresh = new DOMParser().parseFromString(html, "text/html");
  for (const id of LIVE_PARTS) replace(document.getElementById(id), fresh.getElementById(id));
  refreshGroupForm(fresh);
}

function replace(current, next) {
  if (current && next) current.replaceWith(document.adoptNode(next));
}

function refreshGroupForm(fresh) {
  const form = document.getElementById("new-group-form");
  const freshForm = fresh.getElementById("new-group-form");
  if (!form || !freshForm) {
    replace(document.getElementById("new-group"), fresh.getElementById("new-group"));
    return;
  }
  const ticked = new Set([...form.querySelectorAll("input[name=members]:checked")].map((box) => box.value));
  const current = form.querySelector(".member-picker");
  const picker = document.adoptNode(freshForm.querySelector(".member-picker"));
  for (const box of picker.querySelectorAll("input[name=members]")) box.checked = ticked.has(box.value);
  const error = current.querySelector(".field-error"); // a refused form's reason stays where it was
  if (error) picker.querySelector("legend").after(error);
  current.replaceWith(picker);
}
