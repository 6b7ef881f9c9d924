// `@username` mentions: found the way usernames are spelled (letters, digits, _ . -),
// compared without case like the server compares usernames.
import { el } from "./dom.js";

const MENTION = /@([A-Za-z0-9_.-]{1,64})/g;

// A username may end in "." or "-", but a sentence ending in "@bob." means bob.
const trimmed = (name) => name.replace(/[.-]+$/, "");

export function mentions(text, username) {
  const wanted = username.toLowerCase();
  return [...text.matchAll(MENTION)].some((m) => m[1].toLowerCase() === wanted || trimmed(m[1]).toLowerCase() === wanted);
}

// The text as nodes, each mention in its own highlighted span (never as HTML).
export function withMentions(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    const name = trimmed(match[1]);
    nodes.push(text.slice(last, match.index));
    nodes.push(el("span", { className: "mention", text: `@${name}` }));
    last = match.index + 1 + name.length;
  }
  nodes.push(text.slice(last));
  return nodes.filter((node) => node !== "");
}
