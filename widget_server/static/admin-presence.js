// The admin ticket page's "Ana is also viewing this ticket" line, kept current: every few
// seconds while the page is visible, ask the server who else has this ticket open
// (GET /admin/tickets/{ref}/presence, which also marks this agent as viewing it).
// Without this script the line is what it was when the page was drawn; nothing else needs it.
(function () {
  "use strict";
  var line = document.getElementById("presence");
  if (!line || !window.fetch) { return; }
  var url = line.getAttribute("data-presence-url");
  var EVERY = 10000;
  function poll() {
    if (document.visibilityState === "hidden") { return; }
    fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (found) {
        if (found && typeof found.line === "string" && line.textContent !== found.line) {
          line.textContent = found.line;
        }
      })
      .catch(function () { /* offline or signed out: keep the last line */ });
  }
  setInterval(poll, EVERY);
  document.addEventListener("visibilitychange", poll);
}());
