// The program builder: show the refusals the server explains (422: a node field, an invalid
// publish) in place, as htmx would a success, instead of dropping them.
document.addEventListener("htmx:beforeSwap", (event) => {
  if ([404, 409, 422].includes(event.detail.xhr.status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
