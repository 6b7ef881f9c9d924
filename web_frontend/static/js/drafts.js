// What is typed but not sent, per conversation, kept for this tab so a reload does not lose it.
// sessionStorage, not localStorage: a draft should not outlive the tab on a shared computer.

const key = (userId, conversationId) => `draft:${userId}:${conversationId}`;

export function loadDraft(userId, conversationId) {
  try {
    return sessionStorage.getItem(key(userId, conversationId)) || "";
  } catch {
    return "";
  }
}

export function saveDraft(userId, conversationId, text) {
  try {
    if (text) sessionStorage.setItem(key(userId, conversationId), text);
    else sessionStorage.removeItem(key(userId, conversationId));
  } catch {
    // Storage full or disabled: the draft only lives in the page.
  }
}
