// Links in message text: http(s) URLs and bare domains become <a> nodes, everything else stays
// text. Nodes are built one by one (never HTML), and only http and https links are ever made.

// A bare domain needs a known top-level domain, so "file.txt" or "v1.2" stay text.
const TOP_LEVEL = new Set(("com org net edu gov mil int io dev app ai co me info biz chat page site xyz tech online "
  + "news blog cloud shop store ly gg tv fm to sh uk us ca au nz ie de fr es it nl be ch at se no dk fi pl pt cz gr "
  + "ru ua jp cn kr in br mx ar eu asia").split(" "));

// Scheme URLs, or a domain (labels of letters, digits, hyphens) with an optional port and path.
const CANDIDATE = /\bhttps?:\/\/[^\s<>"]+|(?<![@\w.:/-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24})(?::\d{1,5})?(?:\/[^\s<>"]*)?/giu;
// Punctuation that ends a sentence rather than the link.
const TRAILING = /[.,;:!?'")\]}*_~]+$/u;

function trimTrailing(candidate) {
  let text = candidate.replace(TRAILING, "");
  // Keep a closing parenthesis the link opened itself: https://en.wikipedia.org/wiki/Foo_(bar)
  while (candidate.length > text.length && candidate[text.length] === ")"
         && (text.match(/\(/g) || []).length > (text.match(/\)/g) || []).length) {
    text += ")";
  }
  return text;
}

// The link's address, or null when it must stay text.
export function linkTarget(text) {
  const hasScheme = /^https?:\/\//iu.test(text);
  let url;
  try {
    url = new URL(hasScheme ? text : `https://${text}`);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (!url.hostname) return null;
  return url.href;
}

// [{text}, {text, href}] pieces of `text`, in order.
export function linkPieces(text) {
  const pieces = [];
  let last = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const isScheme = /^https?:/iu.test(match[0]);
    if (!isScheme && !TOP_LEVEL.has(match[1].toLowerCase())) continue;
    const candidate = trimTrailing(match[0]);
    const href = linkTarget(candidate);
    if (!href) continue;
    if (match.index > last) pieces.push({ text: text.slice(last, match.index) });
    pieces.push({ text: candidate, href });
    last = match.index + candidate.length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last) });
  return pieces;
}

// Text nodes and links for `text`, to append to a bubble.
export function linkify(text) {
  return linkPieces(text).map(({ text: piece, href }) => {
    if (!href) return document.createTextNode(piece);
    const link = document.createElement("a");
    link.href = href;
    link.textContent = piece;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  });
}
