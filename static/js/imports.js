// Drag and drop for the CSV upload: a file dropped on the zone goes into the file input,
// so the form still posts it normally (and works without this script).
(function () {
  "use strict";
  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var label = zone.querySelector("[data-dropzone-file]");
    if (!input) return;
    function show() {
      var file = input.files && input.files[0];
      if (label) label.textContent = file ? "Selected: " + file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KB)" : "";
    }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("is-over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
    input.addEventListener("change", show);
  });
})();
