// The callaccess console's only script: the audit trail's live updates.
// Each entry the change stream sends becomes the table's first row, in
// the markup the server draws; `#live[data-state]` says whether the stream
// is connected. Everything else works without it.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var table = document.getElementById("audit");
  if (!live || !table || !live.getAttribute("data-stream") || !window.EventSource) {
    return;
  }
  var body = table.tBodies[0];
  var company = live.getAttribute("data-stream").split("/")[3];
  var base = "/console/companies/" + company;

  function cell(label, name, text, href) {
    var td = document.createElement("td");
    td.setAttribute("data-label", label);
    td.className = name;
    if (text && href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text || "";
    }
    return td;
  }

  function shown(value) {
    return value === undefined || value === null ? "–" : JSON.stringify(value);
  }

  function row(entry) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-seq", String(entry.seq));
    tr.className = "fresh";
    var change = "";
    if (entry.before !== undefined && entry.before !== null || entry.after !== undefined && entry.after !== null) {
      change = shown(entry.before) + " → " + shown(entry.after);
    }
    var call = entry.call ? String(entry.call) : "";
    var user = entry.user ? String(entry.user) : "";
    tr.appendChild(cell("#", "seq", String(entry.seq)));
    tr.appendChild(cell("Action", "action", entry.action));
    tr.appendChild(cell("Actor", "actor", entry.actor));
    tr.appendChild(cell("Call", "call", call, call && base + "/calls/" + call));
    tr.appendChild(cell("User", "user", user, user && base + "/users/" + user));
    tr.appendChild(cell("At", "at", entry.at));
    tr.appendChild(cell("Request", "request-id", entry.requestId || ""));
    var changed = cell("Change", "change", "");
    if (change) {
      var text = document.createElement("div");
      text.className = "change-text";
      text.textContent = change;
      changed.appendChild(text);
    }
    tr.appendChild(changed);
    return tr;
  }

  function state(name, text) {
    live.setAttribute("data-state", name);
    live.textContent = "Live updates: " + text;
  }

  var source = new EventSource(live.getAttribute("data-stream"));
  source.onopen = function () {
    state("open", "on");
  };
  source.onerror = function () {
    // EventSource reconnects by itself, sending Last-Event-ID.
    state(source.readyState === EventSource.CLOSED ? "closed" : "connecting", "reconnecting…");
  };
  source.onmessage = function (event) {
    var entry;
    try {
      entry = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (body.querySelector('tr[data-seq="' + String(entry.seq) + '"]')) {
      return;
    }
    body.insertBefore(row(entry), body.firstChild);
    var none = document.getElementById("no-entries");
    if (none) {
      none.remove();
    }
  };
  source.addEventListener("overflow", function () {
    source.close();
    state("closed", "fell behind; reload the page");
  });
})();
