// The filing wizard: search the destination and the institutions as you type, from the public JSON APIs.
// Without this script the select list and the search form do the same work.
(function () {
  "use strict";

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("status " + r.status);
      return r.json();
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- Destination ---
  var select = document.getElementById("id_destination");
  var search = document.getElementById("region-search");
  if (select && search) {
    var box = document.getElementById("region-search-box");
    var results = document.getElementById("region-results");
    var own = search.getAttribute("data-own");
    box.hidden = false;

    var choose = function (code) {
      select.value = code;
      results.hidden = true;
      search.value = "";
      select.dispatchEvent(new Event("change"));
    };

    var lookup = debounce(function (term) {
      if (!term) { results.hidden = true; return; }
      var url = search.getAttribute("data-url") + "?page_size=20&q=" + encodeURIComponent(term);
      getJSON(url).then(function (data) {
        var rows = (data.results || data).filter(function (region) {
          return region.code.slice(0, 2) !== own && (region.level === "province" || region.is_pooling_area);
        });
        results.textContent = "";
        rows.forEach(function (region) {
          var option = select.querySelector('option[value="' + region.code + '"]');
          if (!option) return;
          var item = el("li");
          var button = el("button", "region-option", option.textContent);
          button.type = "button";
          button.setAttribute("role", "option");
          button.addEventListener("click", function () { choose(region.code); });
          item.appendChild(button);
          results.appendChild(item);
        });
        results.hidden = !results.children.length;
      }).catch(function () { results.hidden = true; });
    }, 200);
    search.addEventListener("input", function () { lookup(search.value.trim()); });
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        var first = results.querySelector("button");
        if (first) first.click();
      }
    });
    // Show what filing for the chosen place would take, before moving on: the page comes back with the
    // address as typed, and nothing is saved until "Next".
    select.addEventListener("change", function () {
      if (!select.value) return;
      var form = document.getElementById("destination-form");
      var look = document.createElement("input");
      look.type = "hidden";
      look.name = "look";
      look.value = "1";
      form.appendChild(look);
      form.submit();
    });
  }

  // --- Institutions ---
  var finder = document.getElementById("institution-search");
  var list = document.getElementById("institution-results");
  var labelsNode = document.getElementById("institution-labels");
  if (finder && list && labelsNode) {
    var labels = JSON.parse(labelsNode.textContent);
    var chosen = {};
    document.querySelectorAll("#chosen-list [data-code]").forEach(function (node) {
      chosen[node.getAttribute("data-code")] = true;
    });
    var q = finder.querySelector("[name=q]");
    var level = finder.querySelector("[name=level]");
    var service = finder.querySelector("[name=service]");

    var render = function (rows) {
      list.textContent = "";
      if (!rows.length) {
        list.appendChild(el("li", "hint", labels.empty));
        return;
      }
      rows.forEach(function (inst) {
        var item = el("li", "inst");
        var info = el("span", "info");
        info.appendChild(el("span", "name", inst.name));
        info.appendChild(el("br"));
        info.appendChild(el("span", "addr", inst.address));
        var tags = el("span", "tags");
        tags.appendChild(el("span", "tag blue", labels.levels[String(inst.level)] || ""));
        (inst.services || []).forEach(function (s) { tags.appendChild(el("span", "tag", labels.services[s] || s)); });
        info.appendChild(tags);
        item.appendChild(info);
        if (chosen[inst.code]) {
          item.appendChild(el("span", "tag green", labels.added));
        } else {
          var add = el("button", "btn secondary small", labels.add);
          add.type = "submit";
          add.name = "add";
          add.value = inst.code;
          add.setAttribute("form", "institutions-form");
          item.appendChild(add);
        }
        list.appendChild(item);
      });
    };

    var run = debounce(function () {
      var params = new URLSearchParams({ region: finder.getAttribute("data-region"), networked: "1", page_size: "30" });
      if (q.value.trim()) params.set("q", q.value.trim());
      if (level.value) params.set("level", level.value);
      var wanted = service.value || finder.getAttribute("data-required-service");
      if (wanted) params.set("service", wanted);
      getJSON(finder.getAttribute("data-url") + "?" + params.toString())
        .then(function (data) { render(data.results || data); })
        .catch(function () { /* keep the server-rendered list */ });
    }, 250);
    q.addEventListener("input", run);
    level.addEventListener("change", run);
    service.addEventListener("change", run);
    finder.addEventListener("submit", function (event) { event.preventDefault(); run(); });
  }
})();
