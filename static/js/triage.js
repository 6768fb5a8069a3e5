// Bulk triage on the Violations list: "Select this page" ticks every row, "All N matching this
// filter" acts on the whole filtered set (the server re-runs the filter), and a count says what the
// Apply button will touch. Re-armed after every htmx swap of the table.
(function () {
  function arm(root) {
    var form = root.querySelector ? root.querySelector("#bulk") : null;
    if (!form || form.dataset.armed) return;
    form.dataset.armed = "true";
    var page = form.querySelector("[data-select-page]");
    var all = form.querySelector("[data-select-all]");
    var count = form.querySelector("[data-selected-count]");
    var boxes = function () { return form.querySelectorAll("input[name=ids]"); };
    function update() {
      var n = Array.prototype.filter.call(boxes(), function (b) { return b.checked; }).length;
      count.textContent = all.checked ? "every violation matching the filter" : n + " selected";
    }
    page.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = page.checked; });
      update();
    });
    all.addEventListener("change", function () {
      if (all.checked) { page.checked = true; boxes().forEach(function (b) { b.checked = true; }); }
      update();
    });
    form.addEventListener("change", function (e) { if (e.target.name === "ids") update(); });
    update();
  }
  function start() {
    if (window.htmx) htmx.onLoad(function (elt) { arm(document); });
    else arm(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
