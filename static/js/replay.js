// Replay keyboard shortcuts: j/k next/previous step, n/p next/previous decision, untrusted step or
// error, / focuses the step search, ? shows the keys. Focus moves to the step (tabindex=-1), so the
// next key continues from where the reviewer is, also after htmx loads more steps.
(function () {
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function current(steps) {
    var focused = document.activeElement;
    var i = steps.indexOf(focused);
    if (i >= 0) return i;
    for (i = 0; i < steps.length; i++) {  // the first step whose top is in view
      if (steps[i].getBoundingClientRect().bottom > 60) return i - 1;
    }
    return steps.length - 1;
  }
  function move(delta, selector) {
    var steps = Array.prototype.slice.call(document.querySelectorAll("#steps > li.step"));
    if (!steps.length) return;
    var i = current(steps);
    for (var j = i + delta; j >= 0 && j < steps.length; j += delta) {
      if (!selector || steps[j].matches(selector)) {
        steps[j].focus({preventScroll: true});
        steps[j].scrollIntoView({block: "start"});
        if (history.replaceState) history.replaceState(null, "", "#" + steps[j].id);
        return;
      }
    }
  }
  function help() {
    var box = document.getElementById("shortcut-help");
    if (box) { box.remove(); return; }
    box = document.createElement("div");
    box.id = "shortcut-help";
    box.className = "card shortcut-help";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "Keyboard shortcuts");
    box.innerHTML = "<strong>Keyboard shortcuts</strong><ul><li><kbd>j</kbd> / <kbd>k</kbd> next / previous step</li>" +
      "<li><kbd>n</kbd> / <kbd>p</kbd> next / previous decision, untrusted step or error</li>" +
      "<li><kbd>/</kbd> find in steps</li><li><kbd>?</kbd> show or hide this</li></ul>";
    document.body.appendChild(box);
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && event.target.matches && event.target.matches("[data-shortcut='/']")) {
      event.target.blur();  // back to the keys, after a search
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var handled = true;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "n": move(1, ".flagged"); break;
      case "p": move(-1, ".flagged"); break;
      case "/": var q = document.querySelector("[data-shortcut='/']"); if (q) q.focus(); break;
      case "?": help(); break;
      case "Escape": var box = document.getElementById("shortcut-help"); if (box) box.remove(); else handled = false; break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });
  // A "first violating step" link lands on the step once the page (and its chunk) is there.
  document.addEventListener("DOMContentLoaded", function () {
    var target = document.querySelector(".step.target");
    if (target) { target.scrollIntoView({block: "center"}); target.focus({preventScroll: true}); }
  });
})();
