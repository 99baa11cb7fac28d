// Small behaviours of the dashboard; no inline scripts, so the CSP can forbid them.
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const source = document.querySelector(copy.dataset.copy);
    navigator.clipboard?.writeText(source.textContent.trim()).then(() => {
      copy.textContent = "Copied";
      setTimeout(() => (copy.textContent = "Copy"), 1500);
    });
  }
  if (event.target.closest("[data-toggle-nav]")) {
    document.getElementById("sidebar").classList.toggle("open");
  }
});

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// Drag and drop onto the upload zone, and an upload progress bar (htmx XHR events).
document.addEventListener("dragover", (event) => {
  const zone = event.target.closest?.(".dropzone");
  if (zone) { event.preventDefault(); zone.classList.add("dragover"); }
});
document.addEventListener("dragleave", (event) => event.target.closest?.(".dropzone")?.classList.remove("dragover"));
document.addEventListener("drop", (event) => {
  const zone = event.target.closest?.(".dropzone");
  if (!zone) return;
  event.preventDefault();
  zone.classList.remove("dragover");
  const input = zone.querySelector("input[type=file]");
  input.files = event.dataTransfer.files;
  htmx.trigger(zone, "submit");
});
document.addEventListener("change", (event) => {
  if (event.target.matches(".dropzone input[type=file]") && event.target.files.length) {
    htmx.trigger(event.target.form, "submit");
  }
});
document.addEventListener("htmx:xhr:progress", (event) => {
  const selector = event.target.dataset?.uploadProgress;
  if (!selector || !event.detail.lengthComputable) return;
  const bar = document.querySelector(selector);
  bar.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
});
document.addEventListener("htmx:afterRequest", (event) => {
  const selector = event.target.dataset?.uploadProgress;
  if (!selector) return;
  document.querySelector(selector).hidden = true;
  event.target.reset();
});

// HTMX 2 swaps nothing when the answer is an error (4xx/5xx) or never comes: say so instead of
// failing silently. The message is the server's own; it goes where the element asks
// (data-error-target, as the upload zone does) or to the page's flash messages.
document.addEventListener("htmx:responseError", (event) => {
  showError(event.target, serverMessage(event.detail.xhr));
});
document.addEventListener("htmx:sendError", (event) => {
  showError(event.target, "The server could not be reached. Check your connection and try again.");
});

function serverMessage(xhr) {
  const type = xhr.getResponseHeader("Content-Type") || "";
  if (type.includes("json")) {
    try {
      return JSON.parse(xhr.responseText).error.message;
    } catch {
      // not our error envelope: fall back to the status below
    }
  } else if (type.includes("html")) {
    const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
    const text = page.querySelector("[data-error-message], .error-page .muted")?.textContent.trim();
    if (text) return text;
  }
  return `The request failed (${xhr.status} ${xhr.statusText}). Please try again.`;
}

function showError(element, message) {
  const selector = element.closest?.("[data-error-target]")?.dataset.errorTarget;
  let area = selector && document.querySelector(selector);
  if (!area) {
    area = document.querySelector(".flashes");
    if (!area) {
      area = Object.assign(document.createElement("div"), { className: "flashes" });
      area.setAttribute("role", "status");
      (document.querySelector("main") || document.body).prepend(area);
    }
  }
  const flash = Object.assign(document.createElement("div"), { className: "flash flash-error", textContent: message });
  area.replaceChildren(flash);
}
