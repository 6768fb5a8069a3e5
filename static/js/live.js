// Live tables that never disturb the reviewer: every `data-live-every` ms, each <tbody data-live=URL>
// fetches its rows again and merges them by row id. New rows are inserted where they belong, rows
// that are gone are removed, rows that stay are not touched at all, so a note being typed keeps
// its text and the focus. A row that is gone while the reviewer is in it (focus or a typed note)
// stays, marked as answered elsewhere, until they leave it.
(function () {
  function parseRows(html) {
    var doc = new DOMParser().parseFromString("<table>" + html + "</table>", "text/html");
    return Array.prototype.slice.call(doc.querySelectorAll("tr[data-live-row][id]"));
  }
  function busy(row) {
    if (row.contains(document.activeElement)) return true;
    return Array.prototype.some.call(row.querySelectorAll("input[type=text], textarea"), function (i) {
      return i.value.trim() !== "";
    });
  }
  function merge(tbody, fresh) {
    var wanted = {};
    fresh.forEach(function (r) { wanted[r.id] = true; });
    Array.prototype.slice.call(tbody.querySelectorAll(":scope > tr[data-live-row][id]")).forEach(function (row) {
      if (wanted[row.id] || row.hasAttribute("data-live-keep")) return;
      if (busy(row)) {
        if (!row.classList.contains("gone")) {
          row.classList.add("gone");
          row.setAttribute("title", "No longer waiting: answered elsewhere or past its deadline.");
        }
        return;
      }
      row.remove();
    });
    var previous = null;
    fresh.forEach(function (r) {
      var existing = document.getElementById(r.id);
      if (existing && existing.parentNode === tbody) { previous = existing; return; }
      var row = document.importNode(r, true);
      if (previous) previous.after(row); else tbody.prepend(row);
      if (window.htmx) htmx.process(row);
      previous = row;
    });
  }
  function poll(tbody) {
    if (document.hidden || tbody.dataset.liveBusy) return;
    tbody.dataset.liveBusy = "1";
    fetch(tbody.dataset.live, {headers: {"HX-Request": "true"}, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { merge(document.getElementById(tbody.id) || tbody, parseRows(html)); })
      .catch(function () {})
      .finally(function () { delete tbody.dataset.liveBusy; });
  }
  function start() {
    document.querySelectorAll("tbody[data-live][id]").forEach(function (first) {
      var id = first.id, every = parseInt(first.dataset.liveEvery || "10000", 10);
      // Look the tbody up by id each time: an htmx out-of-band swap may have replaced it.
      setInterval(function () { var t = document.getElementById(id); if (t) poll(t); }, every);
    });
  }
  window.wardenLive = {merge: merge, parseRows: parseRows};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
