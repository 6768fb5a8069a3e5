// Marks the tab for the page being shown (aria-current="page"): the link whose path is the longest
// prefix of this page's path, so /p/acme/policies/decisions/ lights "Decisions", not "Policies".
(function () {
  function mark() {
    var nav = document.querySelector("[data-current-tab]");
    if (!nav) return;
    var here = location.pathname, best = null, bestLength = -1;
    nav.querySelectorAll("a[href]").forEach(function (a) {
      var path = new URL(a.href, location.href).pathname;
      if (here.indexOf(path) === 0 && path.length > bestLength) { best = a; bestLength = path.length; }
    });
    nav.querySelectorAll("[aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
    if (best) best.setAttribute("aria-current", "page");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mark);
  else mark();
})();
