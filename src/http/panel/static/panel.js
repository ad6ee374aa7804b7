// smsgate panel: progressive enhancement only; every page works without it.
// - the send form's live counter asks the server (/panel/count), which runs the encoder's own count,
//   so the parts shown are exactly the parts that will be sent;
// - the modem table polls its rows;
// - forms marked data-confirm ask before destructive actions.
(function () {
  "use strict";

  function csrfOf(form) {
    var input = form.querySelector('input[name="csrf"]');
    return input ? input.value : "";
  }

  function setupCounter() {
    var form = document.getElementById("send-form");
    if (!form) return;
    var text = document.getElementById("text");
    var encoding = document.getElementById("encoding");
    var out = document.getElementById("counter");
    var recipients = document.getElementById("recipients");
    var preview = document.getElementById("recipient-preview");
    var pending = null;
    var seq = 0;
    function update() {
      var mine = ++seq;
      var body = new URLSearchParams();
      body.set("csrf", csrfOf(form));
      body.set("text", text.value);
      body.set("encoding", encoding.value);
      fetch("/panel/count", { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (c) {
          if (mine !== seq) return;
          if (c.error) {
            out.textContent = c.error;
            out.classList.add("over");
            return;
          }
          out.classList.remove("over");
          out.textContent = c.alphabet + " · " + c.chars + " " + out.dataset.chars + " · " +
            c.parts + " " + out.dataset.parts + " · " + c.remaining + " " + out.dataset.left;
          out.dataset.alphabet = c.alphabet;
          out.dataset.count = c.parts;
        })
        .catch(function () { /* the server checks again at submit */ });
    }
    function schedule() {
      if (pending) clearTimeout(pending);
      pending = setTimeout(update, 120);
    }
    function updatePreview() {
      var n = recipients.value.split(/[\n,;]/).map(function (s) { return s.trim(); })
        .filter(function (s) { return s.length > 0; }).length;
      preview.textContent = n > 0 ? preview.dataset.label + ": " + n : "";
    }
    text.addEventListener("input", schedule);
    encoding.addEventListener("change", schedule);
    recipients.addEventListener("input", updatePreview);
    update();
    updatePreview();
  }

  function setupPolling() {
    var body = document.querySelector("[data-poll]");
    if (!body) return;
    var url = body.getAttribute("data-poll");
    setInterval(function () {
      fetch(url, { credentials: "same-origin" })
        .then(function (r) {
          // An ended session redirects to the login page: show it instead of pasting it into the table.
          if (r.redirected) { window.location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) { if (html !== null) body.innerHTML = html; })
        .catch(function () {});
    }, 2000);
  }

  function setupConfirm() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) {
        if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCounter();
    setupPolling();
    setupConfirm();
  });
})();
