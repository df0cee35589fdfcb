// Small behaviours the pages share; no inline scripts (the CSP forbids them).
(function () {
  "use strict";

  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.textContent = "";
    var div = document.createElement("div");
    div.setAttribute("role", "alert");
    div.textContent = message;
    box.appendChild(div);
    window.setTimeout(function () { if (box.contains(div)) box.removeChild(div); }, 8000);
  }

  // htmx does not swap error replies: show their text (a plain-words message from the server).
  document.body.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = (xhr.getResponseHeader("Content-Type") || "").indexOf("text/plain") === 0
      ? xhr.responseText
      : "The server could not complete this (" + xhr.status + "). Reload the page and try again.";
    toast(text);
    // A toggle whose save failed goes back to its saved state.
    var elt = event.detail.elt;
    if (elt && elt.type === "checkbox") elt.checked = !elt.checked;
  });
  document.body.addEventListener("htmx:sendError", function () {
    toast("The server did not answer. Check your connection and try again.");
  });

  // A polled job page hears that its job has ended (the server stopped the polling with 286):
  // reload once so the header, the buttons and the records show the final state.
  document.body.addEventListener("job-finished", function () { window.location.reload(); });

  // A key named by data-shortcut (the recipient search's "/") focuses its box from anywhere on
  // the page, unless the person is typing somewhere or holds a modifier.
  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var active = event.target;
    if (active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName))) return;
    var box = document.querySelector('[data-shortcut="' + CSS.escape(event.key) + '"]');
    if (!box) return;
    event.preventDefault();
    box.focus();
    if (box.select) box.select();
  });

  // <form data-confirm="..."> asks before submitting.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
