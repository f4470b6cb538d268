// Progressive enhancement only: every page works without this file.
// htmx requests carry the page's CSRF token as a header (forms carry it as a field anyway).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
});
