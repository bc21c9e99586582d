// influbot web desk: refresh [data-poll] fragments every 3 s; fill the reply box from a chosen snippet.
// The fragments are rendered (and escaped) by the server; a lost session sends the browser to /login.
"use strict";
(function () {
  function poll(el) {
    fetch(el.dataset.poll, { credentials: "same-origin", headers: { "X-Influbot-Poll": "1" } })
      .then(function (r) {
        if (r.status === 401) { window.location.assign("/login"); return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) { if (html !== null && html !== el.innerHTML) { el.innerHTML = html; } })
      .catch(function () { /* the server is away for a moment: try again next round */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(function (el) {
      window.setInterval(function () { poll(el); }, 3000);
    });
    var select = document.getElementById("snippet");
    var box = document.getElementById("reply-text");
    if (select && box) {
      select.addEventListener("change", function () {
        var chosen = select.options[select.selectedIndex];
        if (chosen && chosen.dataset.text) { box.value = chosen.dataset.text; }
      });
    }
  });
})();
