// The test-send page: show the chosen channel's address field, refill a remembered campaign,
// show the connection's environment, and fill the form from a person found in the mirrors.
(function () {
  "use strict";

  function form() { return document.getElementById("test-send-form"); }

  function readJSON(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function checkedChannel(f) {
    var checked = f.querySelector("input[name=channel]:checked");
    return checked ? checked.value : "";
  }

  // Only the chosen channel's address is sent: hide the others (all show without JavaScript).
  function showAddressField() {
    var f = form();
    if (!f) return;
    var channel = checkedChannel(f);
    f.querySelectorAll(".address-field").forEach(function (box) {
      box.hidden = Boolean(channel) && box.getAttribute("data-channel") !== channel;
    });
  }

  function showEnvironment() {
    var f = form();
    var slot = document.getElementById("connection-env");
    if (!f || !slot) return;
    var info = (readJSON("campaign-connections") || {})[f.elements.connection.value];
    slot.textContent = "";
    if (!info) return;
    var badge = document.createElement("span");
    badge.className = "badge env-" + info.environment;
    badge.textContent = info.label;
    slot.appendChild(badge);
  }

  function rememberedFor(connection) {
    return (readJSON("remembered-campaigns") || []).filter(function (c) {
      return String(c.connection) === String(connection);
    });
  }

  function fillCampaignList() {
    var f = form();
    var list = document.getElementById("remembered-campaign-ids");
    if (!f || !list) return;
    list.textContent = "";
    rememberedFor(f.elements.connection.value).forEach(function (c) {
      var option = document.createElement("option");
      option.value = c.id;
      option.textContent = c.id + (c.label ? " · " + c.label : "");
      list.appendChild(option);
    });
  }

  // A remembered campaign brings back its name, channel and last event (never over typed text).
  function refillCampaign() {
    var f = form();
    if (!f) return;
    var id = f.elements.campaign_id.value.trim().replace(/^#/, "");
    var match = rememberedFor(f.elements.connection.value).filter(function (c) {
      return String(c.id) === id;
    })[0];
    if (!match) return;
    if (match.label && !f.elements.campaign_label.value.trim()) f.elements.campaign_label.value = match.label;
    if (match.event && !f.elements.event.value.trim()) f.elements.event.value = match.event;
    if (match.channel) {
      var radio = f.querySelector("input[name=channel][value=" + match.channel + "]");
      if (radio) radio.checked = true;
      showAddressField();
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.form || target.form.id !== "test-send-form") return;
    if (target.name === "channel") showAddressField();
    if (target.name === "connection") { showEnvironment(); fillCampaignList(); refillCampaign(); }
    if (target.name === "campaign_id") refillCampaign();
  });

  // "Use" on a person found in the mirrors fills the form in place (the link reloads without JS).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-fill-person]");
    var f = form();
    if (!link || !f) return;
    event.preventDefault();
    var email = link.getAttribute("data-email") || "";
    var phone = link.getAttribute("data-phone") || "";
    f.elements.external_id.value = link.getAttribute("data-external-id") || "";
    f.elements.email.value = email;
    f.elements.phone.value = phone;
    if (!checkedChannel(f)) {
      var radio = f.querySelector("input[name=channel][value=" + (email ? "email" : "sms") + "]");
      if (radio) radio.checked = true;
    }
    showAddressField();
    var status = document.getElementById("people-results");
    if (status) {
      var note = document.createElement("p");
      note.className = "small filled-note";
      note.textContent = "Filled from " + (link.getAttribute("data-name") || "the person") + ".";
      status.appendChild(note);
    }
    f.elements.external_id.focus();
  });

  function init() { showAddressField(); showEnvironment(); }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
  if (document.readyState !== "loading") init();
})();
