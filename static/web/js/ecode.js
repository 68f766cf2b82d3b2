// The e-code page: swap in a fresh code before the shown one expires, with a visible countdown.
(function () {
  "use strict";
  var box = document.getElementById("qr");
  if (!box) return;
  var img = document.getElementById("qr-img");
  var digits = document.getElementById("qr-digits");
  var seconds = document.getElementById("qr-seconds");
  var label = document.getElementById("qr-countdown-label");
  var countdown = document.getElementById("qr-countdown");
  var bar = document.getElementById("qr-bar");
  var overlay = document.getElementById("qr-overlay");
  var overlayText = document.getElementById("qr-overlay-text");
  var reload = document.getElementById("qr-reload");
  var url = box.getAttribute("data-url");

  var refreshAt = 0;
  var expiresAt = 0;
  var period = 30;
  var busy = false;
  var stopped = false;
  var offline = false;

  function schedule(refreshIn, expiresIn) {
    var now = Date.now();
    period = Math.max(1, refreshIn);
    refreshAt = now + refreshIn * 1000;
    expiresAt = now + expiresIn * 1000;
  }

  function show(data) {
    img.src = data.image;
    box.setAttribute("data-token", data.token);
    if (digits) digits.textContent = data.token.replace(/(\d{4})(?=\d)/g, "$1 "); // read aloud in fours
    box.classList.remove("stale");
    overlay.hidden = true;
    offline = false;
    schedule(data.refresh_in, data.expires_in);
    tick();
  }

  function expired(message) {
    box.classList.add("stale");
    overlay.hidden = false;
    if (message) overlayText.textContent = message;
    label.textContent = countdown.getAttribute("data-label-expired");
    seconds.textContent = "0";
    bar.style.width = "0%";
  }

  function refresh() {
    if (busy) return;
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (response.ok) {
            show(body);
          } else if (response.status === 401 || response.status === 403 || response.status === 409) {
            // Signed out, suspended or otherwise unusable: stop and say why.
            stopped = true;
            expired(body && body.message);
          } else {
            throw new Error("status " + response.status);
          }
        });
      })
      .catch(function () {
        // Keep the current code while it is still valid and try again shortly.
        offline = true;
        refreshAt = Date.now() + 5000;
      })
      .then(function () {
        busy = false;
      });
  }

  function tick() {
    if (stopped) return;
    var now = Date.now();
    if (now >= expiresAt) {
      expired();
      if (now >= refreshAt) refresh();
      return;
    }
    var left;
    if (offline) {
      left = Math.ceil((expiresAt - now) / 1000);
      label.textContent = countdown.getAttribute("data-label-offline");
    } else {
      left = Math.max(0, Math.ceil((refreshAt - now) / 1000));
      label.textContent = countdown.getAttribute("data-label-refresh");
    }
    seconds.textContent = String(left);
    bar.style.width = Math.min(100, (100 * Math.max(0, refreshAt - now)) / (period * 1000)) + "%";
    if (now >= refreshAt) refresh();
  }

  schedule(parseInt(box.getAttribute("data-refresh-in"), 10) || 30,
    parseInt(box.getAttribute("data-expires-in"), 10) || 120);
  reload.addEventListener("click", function () {
    stopped = false;
    refresh();
  });
  document.addEventListener("visibilitychange", function () {
    // Coming back to the page: never show a code that may have expired meanwhile.
    if (!document.hidden) {
      stopped = false;
      refresh();
    }
  });
  // Keep the screen on while the code is shown, where the browser allows it.
  if (navigator.wakeLock && navigator.wakeLock.request) {
    navigator.wakeLock.request("screen").catch(function () {});
  }
  tick();
  setInterval(tick, 1000);
})();
