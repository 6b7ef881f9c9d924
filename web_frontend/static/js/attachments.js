// Attachments: picking, dropping or pasting files into the composer, uploading them with a
// progress bar (XHR: fetch cannot report upload progress), and showing them in messages:
// image thumbnails that open in a lightbox, and download cards for other files.
import { refreshSession } from "./api.js";
import { announce, el } from "./dom.js";

const MAX_PER_MESSAGE = 10;
// Icons as SVG paths (24x24, stroked): emoji are missing from some systems' fonts.
const PAPERCLIP = "M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9";
const DOCUMENT = "M14 3H6a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V9zM14 3v6h6M8 13h8M8 17h5";

function icon(path) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
  shape.setAttribute("d", path);
  svg.append(shape);
  return svg;
}
const THUMBNAIL_SIZE = 320;

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

// The sidebar's preview of a message without text.
export function attachmentSummary(message) {
  const files = message.attachments || [];
  if (!files.length) return "";
  if (files.length > 1) return `📎 ${files.length} attachments`;
  return files[0].kind === "image" ? "📷 Photo" : `📎 ${files[0].name}`;
}

// ----- showing attachments in a message -----

let lightbox = null;

function openLightbox(attachment) {
  if (!lightbox) {
    const image = el("img", { className: "lightbox-image", attrs: { alt: "" } });
    const caption = el("p", { className: "lightbox-caption" });
    const close = el("button", { className: "lightbox-close", text: "×",
      attrs: { type: "button", "aria-label": "Close" } });
    const download = el("a", { className: "lightbox-download", text: "Download" });
    lightbox = el("dialog", { className: "lightbox", attrs: { "aria-label": "Image" } }, [
      close, image, el("div", { className: "lightbox-bar" }, [caption, download]),
    ]);
    close.addEventListener("click", () => lightbox.close());
    // A click on the dark backdrop (the dialog itself, not its content) closes it; Esc closes a modal dialog.
    lightbox.addEventListener("click", (event) => { if (event.target === lightbox) lightbox.close(); });
    lightbox.addEventListener("close", () => image.removeAttribute("src"));
    document.body.append(lightbox);
  }
  const image = lightbox.querySelector(".lightbox-image");
  image.src = attachment.url;
  image.alt = attachment.name;
  lightbox.querySelector(".lightbox-caption").textContent = `${attachment.name} · ${formatSize(attachment.size)}`;
  const download = lightbox.querySelector(".lightbox-download");
  download.href = attachment.url;
  download.setAttribute("download", attachment.name);
  lightbox.showModal();
}

function imageTile(attachment) {
  // The thumbnail's box before it loads (the server scales to fit 320x320), so the list does not jump.
  const scale = attachment.width ? Math.min(1, THUMBNAIL_SIZE / Math.max(attachment.width, attachment.height)) : 0;
  const thumbnail = el("img", { attrs: {
    src: attachment.thumbnail_url || attachment.url, alt: attachment.name, loading: "lazy", decoding: "async",
    width: scale ? Math.max(1, Math.round(attachment.width * scale)) : null,
    height: scale ? Math.max(1, Math.round(attachment.height * scale)) : null,
  } });
  const button = el("button", { className: "attachment-image", attrs: { type: "button",
    "aria-label": `Open image ${attachment.name}` } }, [thumbnail]);
  button.addEventListener("click", () => openLightbox(attachment));
  return button;
}

function fileCard(attachment) {
  return el("a", { className: "attachment-file", attrs: { href: attachment.url, download: attachment.name } }, [
    el("span", { className: "attachment-file-icon" }, [icon(DOCUMENT)]),
    el("span", { className: "attachment-file-text" }, [
      el("span", { className: "attachment-file-name", text: attachment.name }),
      el("span", { className: "attachment-file-size", text: formatSize(attachment.size) }),
    ]),
  ]);
}

// The attachments of a message as one node, or null when it has none.
export function attachmentsNode(attachments) {
  if (!attachments || !attachments.length) return null;
  return el("div", { className: "attachments" },
    attachments.map((a) => (a.kind === "image" ? imageTile(a) : fileCard(a))));
}

// ----- the composer's uploads -----

function uploadFile(file, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON: a gateway error page */ }
      if (xhr.status === 201) resolve(data.attachment);
      else reject(Object.assign(new Error(data.error?.message || "Upload failed."), { status: xhr.status }));
    });
    xhr.addEventListener("error", () => reject(Object.assign(new Error("You appear to be offline."), { status: 0 })));
    xhr.addEventListener("abort", () => reject(Object.assign(new Error("Cancelled."), { status: -1 })));
  });
  const body = new FormData();
  body.append("file", file, file.name);
  xhr.open("POST", "/api/attachments");
  xhr.setRequestHeader("Accept", "application/json");
  xhr.send(body);
  return { done, cancel: () => xhr.abort() };
}

// Files chosen for the next message: each uploads at once and shows its progress; the
// message can be sent once every one has finished. Cancelling drops it from the message
// (the server removes an upload never sent after a day).
export class AttachmentTray {
  constructor({ form, input, dropZone, onChange }) {
    this.items = [];
    this.onChange = onChange;
    this.enabled = true;
    this.tray = el("ul", { className: "attachment-tray", attrs: { "aria-label": "Attachments to send" } });
    this.tray.hidden = true;
    this.picker = el("input", { className: "sr-only", attrs: { type: "file", multiple: true, tabindex: "-1",
      "aria-hidden": "true", id: "attachment-picker" } });
    this.button = el("button", { className: "attach-button",
      attrs: { type: "button", "aria-label": "Attach files", title: "Attach files" } }, [icon(PAPERCLIP)]);
    form.before(this.tray);
    form.prepend(this.button, this.picker);
    this.button.addEventListener("click", () => this.picker.click());
    this.picker.addEventListener("change", () => {
      this.addFiles([...this.picker.files]);
      this.picker.value = "";
    });
    input.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (files.length) {
        event.preventDefault();
        this.addFiles(files);
      }
    });
    dropZone.addEventListener("dragover", (event) => {
      if (!this.enabled || !event.dataTransfer?.types.includes("Files")) return;
      event.preventDefault();
      dropZone.classList.add("dropping");
    });
    dropZone.addEventListener("dragleave", (event) => {
      if (!dropZone.contains(event.relatedTarget)) dropZone.classList.remove("dropping");
    });
    dropZone.addEventListener("drop", (event) => {
      dropZone.classList.remove("dropping");
      if (!this.enabled || !event.dataTransfer?.files.length) return;
      event.preventDefault();
      this.addFiles([...event.dataTransfer.files]);
    });
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    this.button.disabled = !enabled;
  }

  addFiles(files) {
    if (!this.enabled) return;
    for (const file of files) {
      if (this.items.length >= MAX_PER_MESSAGE) {
        announce(`At most ${MAX_PER_MESSAGE} attachments per message.`);
        break;
      }
      this.start(file);
    }
  }

  start(file) {
    const progress = el("progress", { attrs: { max: "1", value: "0", "aria-label": `Uploading ${file.name}` } });
    const status = el("span", { className: "attachment-status", text: formatSize(file.size) });
    const cancel = el("button", { className: "attachment-cancel", text: "×",
      attrs: { type: "button", "aria-label": `Remove ${file.name}` } });
    const node = el("li", { className: "attachment-item uploading" }, [
      el("span", { className: "attachment-item-name", text: file.name }), status, progress, cancel,
    ]);
    const item = { file, node, attachment: null, failed: false, upload: null };
    this.items.push(item);
    this.tray.append(node);
    this.tray.hidden = false;
    cancel.addEventListener("click", () => this.remove(item));
    const run = () => {
      item.upload = uploadFile(file, (fraction) => { progress.value = fraction; });
      item.upload.done.then((attachment) => {
        item.attachment = attachment;
        node.classList.remove("uploading");
        node.classList.add("uploaded");
        progress.value = 1;
        status.textContent = formatSize(attachment.size);
        this.onChange();
      }, async (error) => {
        if (error.status === -1) return; // cancelled
        if (error.status === 401 && !item.retried && (await refreshSession()) === "ok") {
          item.retried = true;
          run();
          return;
        }
        item.failed = true;
        node.classList.remove("uploading");
        node.classList.add("failed");
        status.textContent = error.message;
        announce(`${file.name} was not uploaded: ${error.message}`);
        this.onChange();
      });
    };
    run();
    this.onChange();
  }

  remove(item) {
    item.upload?.cancel();
    this.items = this.items.filter((other) => other !== item);
    item.node.remove();
    this.tray.hidden = this.items.length === 0;
    this.onChange();
  }

  get uploading() {
    return this.items.some((item) => !item.attachment && !item.failed);
  }

  // The uploaded attachments, for the message being sent; empties the tray.
  take() {
    const attachments = this.items.filter((item) => item.attachment).map((item) => item.attachment);
    for (const item of [...this.items]) this.remove(item);
    return attachments;
  }

  get ready() {
    return this.items.some((item) => item.attachment);
  }
}
