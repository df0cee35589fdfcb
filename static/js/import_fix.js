// Fixing a cell in the import preview. The editor is a <details> with a form, so it opens,
// posts and comes back to the row without this script; the script adds the keyboard's
// conveniences: opening puts the cursor in the value (selected, so typing replaces it),
// Escape or Cancel closes it with the value as it was and the focus back on its Edit button.
(function () {
  "use strict";

  function close(editor) {
    var input = editor.querySelector("input[name=value]");
    if (input) input.value = input.defaultValue;
    editor.open = false;
    var summary = editor.querySelector("summary");
    if (summary) summary.focus();
  }

  function edit(editor) {
    var input = editor.querySelector("input[name=value]");
    if (input && document.activeElement !== input) {
      input.focus();
      input.select();
    }
  }

  function showCancel(root) {
    root.querySelectorAll("[data-fix-cancel]").forEach(function (button) { button.hidden = false; });
  }

  // Opened from its Edit button (a click, or Enter or Space on it): open it here, so the box
  // has the focus before the next key (the browser's "toggle" comes a task later).
  document.addEventListener("click", function (event) {
    var summary = event.target.closest && event.target.closest("details.cell-fix > summary");
    if (!summary || summary.parentElement.open) return;
    event.preventDefault();
    summary.parentElement.open = true;
    edit(summary.parentElement);
  });

  // Opened any other way. "toggle" does not bubble: listen while it goes down.
  document.addEventListener("toggle", function (event) {
    var editor = event.target;
    if (editor.matches && editor.matches("details.cell-fix") && editor.open) edit(editor);
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var editor = event.target.closest("details.cell-fix");
    if (!editor || !editor.open) return;
    event.preventDefault();
    close(editor);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-fix-cancel]");
    if (!button) return;
    var editor = button.closest("details.cell-fix");
    if (editor) close(editor);
  });

  showCancel(document);
  // Rows swapped in by htmx bring their own Cancel buttons.
  document.addEventListener("htmx:load", function (event) { showCancel(event.target); });
})();
