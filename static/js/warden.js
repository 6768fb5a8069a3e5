// Page behaviour for every page. No inline script anywhere: the Content-Security-Policy allows
// scripts from this origin's static files only.
(function () {
  // The project switcher in the top bar opens the chosen project.
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form.switcher");
    if (form && form.p.value) { location.href = "/p/" + form.p.value + "/"; }
  });
  // A form's select[data-switch=NAME] shows only the fields marked data-shown-for="NAME:<its value>"
  // (the what-if form: a policy what-if has no contract or version to choose).
  document.addEventListener("change", function (event) {
    var name = event.target.dataset && event.target.dataset.switch;
    if (!name || !event.target.form) return;
    event.target.form.querySelectorAll("[data-shown-for^='" + name + ":']").forEach(function (el) {
      el.hidden = el.dataset.shownFor !== name + ":" + event.target.value;
    });
  });
  // "Save view" on the episode list keeps the filters the URL holds now (htmx may have changed them).
  document.addEventListener("submit", function (event) {
    if (event.target.id === "save-view") { event.target.query.value = location.search.slice(1); }
  });
})();
