// Draws every Plotly figure a page (or an htmx swap) carries: <div data-chart="ID"> + json_script ID.
(function () {
  function draw(root) {
    if (typeof Plotly === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.dataset.chart);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      // Text in the page's colour, so the charts read in dark mode too.
      var fg = getComputedStyle(document.documentElement).getPropertyValue("--fg").trim();
      if (fg) fig.layout.font = Object.assign({color: fg}, fig.layout.font || {});
      Plotly.react(el, fig.data, fig.layout, { displaylogo: false, responsive: true });
      el.dataset.drawn = "true";
    });
  }
  function start() {
    if (window.htmx) {
      htmx.onLoad(function (elt) { draw(elt.querySelectorAll ? elt : document); });
    } else {
      draw(document);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
