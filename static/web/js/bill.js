// The bill of a use on the counter page: items from the treatment place's catalogue, the live pre-settlement
// (POST /api/v1/settlements/preview), the settlement (POST /api/v1/settlements/ with the use's request number,
// so a double click or a retry never settles twice), the receipt and the same-day reversal. Every amount shown
// is the server's; a refusal is shown with the server's message, in the cashier's language.
(function () {
  "use strict";

  function words() {
    var node = document.getElementById("bill-words");
    return node ? JSON.parse(node.textContent) : {};
  }

  function init() {
    var bill = document.getElementById("bill");
    if (!bill || !bill.hasAttribute("data-bill") || bill.hasAttribute("data-ready")) return;
    bill.setAttribute("data-ready", "");
    var say = words();
    var form = document.getElementById("bill-form");
    var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
    var search = document.getElementById("bill-search");
    var results = document.getElementById("bill-results");
    var tbody = document.querySelector("#bill-items tbody");
    var table = document.getElementById("bill-items");
    var empty = document.getElementById("bill-empty");
    var errorBox = document.getElementById("bill-error");
    var splitBox = document.getElementById("bill-split");
    var settleButton = document.getElementById("settle-button");
    var visitType = form.querySelector("[name=visit_type]");
    var dates = form.querySelector(".bill-dates");
    var admission = document.getElementById("bill-admission");
    var done = document.getElementById("bill-done");
    var rows = [];
    var previewSeq = 0;
    var previewTimer = null;
    var searchTimer = null;
    var searchSeq = 0;
    var found = [];
    var settling = false;
    var settlement = null;

    function api(method, url, body) {
      return fetch(url, {
        method: method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(function (response) {
        return response.json().then(
          function (data) { return { ok: response.ok, status: response.status, data: data }; },
          function () { return { ok: false, status: response.status, data: {} }; }
        );
      });
    }

    // The first message the API gives for a field (items[i] included), else its general message.
    function firstMessage(value) {
      if (typeof value === "string") return value;
      if (Array.isArray(value)) {
        for (var i = 0; i < value.length; i++) { var m = firstMessage(value[i]); if (m) return m; }
      } else if (value && typeof value === "object") {
        for (var key in value) { var n = firstMessage(value[key]); if (n) return n; }
      }
      return "";
    }

    function showError(answer, box) {
      box = box || errorBox;
      var data = (answer && answer.data) || {};
      var message = data.message || say.network;
      var detail = data.fields ? firstMessage(data.fields) : "";
      box.textContent = "";
      var strong = document.createElement("strong");
      strong.textContent = message;
      box.appendChild(strong);
      if (detail && detail !== message) box.appendChild(document.createTextNode(detail));
      box.setAttribute("data-code", data.code || "network");
      box.hidden = false;
      // Item errors come by position: {"items": {"0": {"quantity": [...]}}}.
      var itemErrors = data.fields && typeof data.fields.items === "object" ? data.fields.items : {};
      rows.forEach(function (row, index) {
        row.tr.classList.toggle("invalid", Boolean(firstMessage(itemErrors[index])));
      });
    }

    function clearError() {
      errorBox.hidden = true;
      errorBox.textContent = "";
      errorBox.removeAttribute("data-code");
      rows.forEach(function (row) { row.tr.classList.remove("invalid"); });
    }

    function fillSplit(container, data) {
      container.querySelectorAll("[data-split]").forEach(function (dd) {
        var value = data[dd.getAttribute("data-split")];
        dd.textContent = value === undefined || value === null ? "–" : "¥" + value;
      });
    }

    function payload() {
      var type = visitType.value;
      var body = {
        use_id: Number(bill.getAttribute("data-use-id")),
        visit_type: type,
        emergency: bill.getAttribute("data-emergency") === "true",
        request_no: bill.getAttribute("data-request-no"),
        items: rows.map(function (row) {
          return {
            code: row.item.code,
            name: row.item.name,
            quantity: row.qty.value.trim(),
            unit_price: row.price.value.trim(),
          };
        }),
      };
      var today = bill.getAttribute("data-today");
      if (type === "inpatient") {
        body.admission_date = admission.value;
        body.discharge_date = today;
      } else {
        body.visit_date = today;
      }
      return body;
    }

    function schedulePreview() {
      // What is shown no longer matches the bill: a preview still on its way is ignored when it comes.
      previewSeq++;
      settleButton.disabled = true;
      bill.setAttribute("data-previewing", "");
      window.clearTimeout(previewTimer);
      previewTimer = window.setTimeout(preview, 250);
    }

    function preview() {
      var seq = ++previewSeq;
      bill.removeAttribute("data-previewing");
      empty.hidden = rows.length > 0;
      table.hidden = rows.length === 0;
      if (!rows.length) {
        splitBox.hidden = true;
        clearError();
        return;
      }
      if (rows.some(function (row) { return row.price.value.trim() === ""; })) {
        splitBox.hidden = true;
        clearError();
        errorBox.textContent = say.price_needed;
        errorBox.setAttribute("data-code", "price_needed");
        errorBox.hidden = false;
        return;
      }
      bill.setAttribute("data-previewing", "");
      api("POST", bill.getAttribute("data-preview-url"), payload()).then(function (answer) {
        if (seq !== previewSeq) return; // a later change is on its way
        bill.removeAttribute("data-previewing");
        if (!answer.ok) {
          splitBox.hidden = true;
          showError(answer);
          return;
        }
        clearError();
        fillSplit(splitBox, answer.data);
        answer.data.lines.forEach(function (line, index) {
          if (rows[index]) rows[index].amount.textContent = line.amount;
        });
        splitBox.hidden = false;
        settleButton.disabled = settling;
      }, function () {
        if (seq !== previewSeq) return;
        bill.removeAttribute("data-previewing");
        showError(null);
      });
    }

    function addItem(item) {
      var existing = rows.filter(function (row) { return row.item.code === item.code; })[0];
      if (existing) {
        existing.qty.focus();
        existing.qty.select();
        return;
      }
      var tr = document.createElement("tr");
      var name = document.createElement("td");
      name.innerHTML = "<span class=\"item-name\"></span><small></small>";
      name.firstChild.textContent = item.name;
      name.lastChild.textContent = item.code + (item.unit ? " · " + item.unit : "");
      var klass = document.createElement("td");
      var tag = document.createElement("span");
      tag.className = "tag" + (item.coverage_class === "A" ? " green" : item.coverage_class === "B" ? " blue" : "");
      tag.textContent = say.classes[item.coverage_class || ""] || item.coverage_class;
      klass.appendChild(tag);
      var qtyCell = document.createElement("td");
      qtyCell.className = "num";
      var qty = document.createElement("input");
      qty.type = "text";
      qty.inputMode = "decimal";
      qty.value = "1";
      qty.className = "qty";
      qty.setAttribute("aria-label", say.quantity + " · " + item.name);
      qtyCell.appendChild(qty);
      var priceCell = document.createElement("td");
      priceCell.className = "num";
      var price = document.createElement("input");
      price.type = "text";
      price.inputMode = "decimal";
      price.value = item.last_price ? String(Number(item.last_price)) : "";
      price.className = "price";
      price.setAttribute("aria-label", say.unit_price + " · " + item.name);
      priceCell.appendChild(price);
      var amount = document.createElement("td");
      amount.className = "num amount";
      amount.textContent = "…";
      var removeCell = document.createElement("td");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn ghost small remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", say.remove + " · " + item.name);
      removeCell.appendChild(remove);
      [name, klass, qtyCell, priceCell, amount, removeCell].forEach(function (td) { tr.appendChild(td); });
      tr.setAttribute("data-code", item.code);
      tbody.appendChild(tr);
      var row = { item: item, tr: tr, qty: qty, price: price, amount: amount };
      rows.push(row);
      [qty, price].forEach(function (input) {
        input.addEventListener("input", function () { amount.textContent = "…"; schedulePreview(); });
      });
      remove.addEventListener("click", function () {
        rows = rows.filter(function (r) { return r !== row; });
        tr.remove();
        schedulePreview();
        search.focus();
      });
      (price.value ? qty : price).focus();
      (price.value ? qty : price).select();
      schedulePreview();
    }

    // --- Catalogue search ---
    function closeResults() {
      results.hidden = true;
      search.setAttribute("aria-expanded", "false");
    }

    function showResults(items, message) {
      results.innerHTML = "";
      found = items;
      if (message) {
        var li = document.createElement("li");
        li.className = "hint";
        li.textContent = message;
        results.appendChild(li);
      }
      items.forEach(function (item, index) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.setAttribute("data-index", String(index));
        li.setAttribute("data-code", item.code);
        li.tabIndex = -1;
        var label = document.createElement("span");
        label.className = "item-name";
        label.textContent = item.name;
        var meta = document.createElement("small");
        meta.textContent = item.code + " · " + (say.classes[item.coverage_class] || "") +
          (item.unit ? " · " + item.unit : "") + (item.last_price ? " · ¥" + Number(item.last_price) : "");
        li.appendChild(label);
        li.appendChild(meta);
        results.appendChild(li);
      });
      results.hidden = false;
      search.setAttribute("aria-expanded", "true");
    }

    function lookUp() {
      var query = search.value.trim();
      var seq = ++searchSeq;
      if (!query) { closeResults(); return; }
      var url = bill.getAttribute("data-catalogue-url") + "?q=" + encodeURIComponent(query);
      api("GET", url).then(function (answer) {
        if (seq !== searchSeq) return;
        if (!answer.ok) { showResults([], (answer.data && answer.data.message) || say.network); return; }
        showResults(answer.data, answer.data.length ? "" : say.no_results);
      }, function () {
        if (seq === searchSeq) showResults([], say.network);
      });
    }

    function pick(index) {
      var item = found[index];
      if (!item) return;
      search.value = "";
      closeResults();
      addItem(item);
    }

    search.addEventListener("input", function () {
      window.clearTimeout(searchTimer);
      searchTimer = window.setTimeout(lookUp, 200);
    });
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        // Enter picks the first match (a barcode scanner of drug codes ends with Enter).
        if (found.length && !results.hidden) pick(0);
        else { window.clearTimeout(searchTimer); lookUp(); }
      } else if (event.key === "ArrowDown" && !results.hidden) {
        event.preventDefault();
        var first = results.querySelector("[role=option]");
        if (first) first.focus();
      } else if (event.key === "Escape") {
        closeResults();
      }
    });
    results.addEventListener("click", function (event) {
      var li = event.target.closest("[role=option]");
      if (li) pick(Number(li.getAttribute("data-index")));
    });
    results.addEventListener("keydown", function (event) {
      var li = event.target.closest("[role=option]");
      if (!li) return;
      if (event.key === "Enter") { event.preventDefault(); pick(Number(li.getAttribute("data-index"))); }
      else if (event.key === "ArrowDown" && li.nextElementSibling) { event.preventDefault(); li.nextElementSibling.focus(); }
      else if (event.key === "ArrowUp") { event.preventDefault(); (li.previousElementSibling || search).focus(); }
      else if (event.key === "Escape") { closeResults(); search.focus(); }
    });

    visitType.addEventListener("change", function () {
      if (dates) dates.hidden = visitType.value !== "inpatient";
      schedulePreview();
    });
    if (admission) admission.addEventListener("change", schedulePreview);
    if (dates) dates.hidden = visitType.value !== "inpatient";

    // --- Settle, receipt, reverse ---
    function showSettled(data) {
      settlement = data;
      bill.setAttribute("data-done", "");
      bill.setAttribute("data-settlement-id", String(data.id));
      form.hidden = true;
      done.hidden = false;
      document.getElementById("bill-number").textContent = data.number;
      fillSplit(done, data);
      document.getElementById("receipt-a4").href = data.receipt_url;
      document.getElementById("receipt-80").href = data.receipt_url + "?paper=80mm";
      bill.querySelector(".bill-title .hint").hidden = true;
      var state = document.getElementById("r-bill-state");
      if (state) {
        var tick = document.querySelector(".use-steps li.done svg");
        state.className = "done";
        if (tick) state.replaceChild(tick.cloneNode(true), state.firstElementChild);
        state.lastElementChild.textContent = document.getElementById("bill-done-title").getAttribute("data-settled") +
          " · " + data.number;
      }
      verdict("settled", "ok");
    }

    // The verdict above the use says what has become of it.
    function verdict(what, tone) {
      var box = document.getElementById("verdict");
      if (!box) return;
      box.className = "verdict " + tone;
      box.setAttribute("data-bill", what);
      var icon = box.querySelector(":scope > svg");
      var tick = document.querySelector(".use-steps li.done svg");
      if (icon && tick && what === "settled") box.replaceChild(tick.cloneNode(true), icon);
      var heading = box.querySelector("h2");
      var line = box.querySelector("p");
      if (heading) heading.textContent = say["verdict_" + what];
      if (line) line.textContent = say["verdict_" + what + "_line"];
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (settling || settleButton.disabled) return;
      settling = true;
      settleButton.disabled = true;
      var label = settleButton.textContent;
      settleButton.textContent = say.settling;
      api("POST", bill.getAttribute("data-settle-url"), payload()).then(function (answer) {
        if (answer.ok) { showSettled(answer.data); return; }
        showError(answer);
        settleButton.disabled = false;
      }, function () {
        showError(null);
        settleButton.disabled = false;
      }).then(function () {
        settling = false;
        settleButton.textContent = label;
      });
    });

    var reverseForm = document.getElementById("bill-reverse");
    var reverseError = document.getElementById("bill-reverse-error");
    document.getElementById("reverse-start").addEventListener("click", function () {
      reverseForm.hidden = false;
      document.getElementById("bill-reverse-reason").focus();
    });
    reverseForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var confirm = document.getElementById("reverse-confirm");
      if (confirm.disabled || !settlement) return;
      confirm.disabled = true;
      var label = confirm.textContent;
      confirm.textContent = say.reversing;
      var url = bill.getAttribute("data-reverse-url").replace("/0/", "/" + settlement.id + "/");
      var reason = document.getElementById("bill-reverse-reason").value;
      api("POST", url, { reason: reason }).then(function (answer) {
        confirm.textContent = label;
        if (!answer.ok) {
          confirm.disabled = false;
          showError(answer, reverseError);
          return;
        }
        bill.setAttribute("data-reversed", "");
        reverseError.hidden = true;
        reverseForm.hidden = true;
        document.getElementById("reverse-start").hidden = true;
        var title = document.getElementById("bill-done-title");
        title.textContent = title.getAttribute("data-reversed");
        var box = document.getElementById("bill-settled");
        box.className = "alert warning";
        var note = document.createElement("p");
        note.id = "bill-reversed-note";
        note.textContent = say.reversed_on;
        box.appendChild(note);
        var state = document.getElementById("r-bill-state");
        if (state) state.lastElementChild.textContent = title.textContent + " · " + settlement.number;
        verdict("reversed", "warn");
      }, function () {
        confirm.textContent = label;
        confirm.disabled = false;
        showError(null, reverseError);
      });
    });

    table.hidden = true;
  }

  document.addEventListener("counter:result", init);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
