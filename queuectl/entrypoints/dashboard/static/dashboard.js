// Keeps the page live: every few seconds it fetches the same page and swaps in
// its #live-region, so there is one rendering (the server's) and no reload.
(function () {
  "use strict";
  var region = document.getElementById("live-region");
  var pulse = document.getElementById("pulse");
  var offline = document.getElementById("offline");
  var meta = document.querySelector('meta[name="refresh-ms"]');
  var every = Number(meta && meta.content) || 2000;
  var busy = false;

  // A notice (after an action) is shown once: drop it from the address.
  var url = new URL(window.location.href);
  if (url.searchParams.has("notice")) {
    url.searchParams.delete("notice");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  function editing() {
    var active = document.activeElement;
    return active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh() {
    if (busy || document.hidden || !region || editing()) return;
    busy = true;
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        return response.text().then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live-region");
          if (!response.ok || !fresh) throw new Error("HTTP " + response.status);
          if (fresh.innerHTML !== region.innerHTML) region.innerHTML = fresh.innerHTML;
          offline.hidden = true;
          pulse.classList.remove("stale");
          pulse.textContent = "updated " + new Date().toLocaleTimeString();
        });
      })
      .catch(function () {
        offline.hidden = false;
        pulse.classList.add("stale");
        pulse.textContent = "offline";
      })
      .finally(function () { busy = false; });
  }

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  window.setInterval(refresh, every);
})();
