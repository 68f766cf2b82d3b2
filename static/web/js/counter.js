// The counter page: a scanner gun types the digits and Enter into the focused field; the result is shown
// without a page load. The camera is used where the browser can read QR codes (BarcodeDetector).
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  if (!form) return;
  var input = form.querySelector("input[name=token]");
  var result = document.getElementById("result");
  var state = document.getElementById("scan-state");
  var busy = false;

  function focusInput() {
    if (document.activeElement !== input) input.focus({ preventScroll: true });
  }

  function post(target) {
    if (busy) return;
    busy = true;
    state.textContent = state.getAttribute("data-busy");
    var data = new FormData(target);
    fetch(target.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) {
        // A 403 that is not the counter's own refusal is an expired session or CSRF token: reload.
        var refusal = response.headers.get("X-Counter-Refusal");
        if ((response.status === 403 && !refusal) || response.redirected) {
          window.location.reload();
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) {
          result.innerHTML = html;
          // The bill's script (bill.js) takes over a bill that has just appeared.
          document.dispatchEvent(new CustomEvent("counter:result"));
        }
      })
      .catch(function () {
        // Without the script's request the form still works: send it the ordinary way.
        target.submit();
      })
      .then(function () {
        busy = false;
        state.textContent = state.getAttribute("data-ready");
        input.value = "";
        focusInput();
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    input.value = input.value.replace(/\s+/g, "");
    post(form);
  });
  // The result's own forms (use the code, use it as an emergency) answer in the result area too.
  document.addEventListener("submit", function (event) {
    if (event.target && event.target.hasAttribute("data-counter-post")) {
      event.preventDefault();
      post(event.target);
    }
  });
  // The scanner types into whatever has focus: keep it on the field unless a control was clicked.
  // ... except while the cashier works on the bill, which has fields of its own.
  function inBill(element) {
    return Boolean(element && element.closest && element.closest("#bill"));
  }
  document.addEventListener("click", function (event) {
    if (inBill(event.target)) return;
    if (!event.target.closest("button, a, input, select, textarea, summary, video, label")) focusInput();
  });
  window.addEventListener("focus", function () { if (!inBill(document.activeElement)) focusInput(); });
  focusInput();

  // --- Camera scanning ---
  var camera = document.getElementById("camera");
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  camera.hidden = false;
  var start = document.getElementById("camera-start");
  var video = document.getElementById("camera-video");
  var cameraState = document.getElementById("camera-state");
  var stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.hidden = true;
  }

  start.addEventListener("click", function () {
    if (stream) { stop(); return; }
    var detector;
    try {
      detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch (error) {
      cameraState.textContent = camera.getAttribute("data-unsupported");
      return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (media) {
      stream = media;
      video.srcObject = media;
      video.hidden = false;
      video.play();
      var scan = function () {
        if (!stream) return;
        detector.detect(video).then(function (codes) {
          var digits = codes.length ? String(codes[0].rawValue).replace(/\s+/g, "") : "";
          if (/^\d{200,}$/.test(digits)) {
            stop();
            input.value = digits;
            post(form);
          } else {
            window.setTimeout(scan, 250);
          }
        }).catch(function () { window.setTimeout(scan, 500); });
      };
      scan();
    }).catch(function (error) {
      cameraState.textContent = String(error && error.message ? error.message : error);
    });
  });
})();
