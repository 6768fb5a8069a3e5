// The YAML editors (textarea[data-editor]): line numbers beside the text, kept in step on typing,
// scrolling and resizing; a problem's "line N" button (templates/_editor_issues.html) selects that
// line in its editor and marks it in the gutter. Plain script: the Content-Security-Policy allows
// no inline code and nothing from other origins.
(function () {
  function lineCount(text) {
    var n = 1;
    for (var i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
    return n;
  }

  function refresh(editor) {
    var n = lineCount(editor.textarea.value);
    if (n !== editor.lines) {
      var text = [];
      for (var i = 1; i <= n; i++) text.push(i);
      editor.numbers.textContent = text.join("\n");
      editor.gutter.style.width = (String(n).length + 2) + "ch";
      editor.lines = n;
      marks(editor);
    }
    editor.gutter.scrollTop = editor.textarea.scrollTop;
  }

  // Lines with a problem get a marker beside their number, drawn as a block at the line's offset.
  function marks(editor) {
    editor.gutter.querySelectorAll(".mark").forEach(function (m) { m.remove(); });
    var id = editor.textarea.id, lineHeight = parseFloat(getComputedStyle(editor.textarea).lineHeight);
    var top = parseFloat(getComputedStyle(editor.numbers).paddingTop);
    document.querySelectorAll(".goto-line[data-editor='" + id + "']").forEach(function (button) {
      var line = parseInt(button.dataset.line, 10);
      if (!(line >= 1 && line <= editor.lines)) return;
      var mark = document.createElement("span");
      mark.className = "mark";
      mark.dataset.line = line;
      mark.style.top = (top + (line - 1) * lineHeight) + "px";
      mark.style.height = lineHeight + "px";
      editor.gutter.appendChild(mark);
    });
  }

  function setUp(textarea) {
    if (textarea.closest(".code-editor")) return textarea.closest(".code-editor").editor;
    var box = document.createElement("div"), gutter = document.createElement("div"),
        numbers = document.createElement("div");
    box.className = "code-editor";
    gutter.className = "gutter";
    gutter.setAttribute("aria-hidden", "true");
    numbers.className = "numbers";
    gutter.appendChild(numbers);
    textarea.parentNode.insertBefore(box, textarea);
    box.appendChild(gutter);
    box.appendChild(textarea);
    textarea.setAttribute("wrap", "off");  // one text line per number
    var editor = { textarea: textarea, gutter: gutter, numbers: numbers, lines: 0 };
    box.editor = editor;
    textarea.addEventListener("input", function () { refresh(editor); });
    textarea.addEventListener("scroll", function () { gutter.scrollTop = textarea.scrollTop; });
    if (window.ResizeObserver) new ResizeObserver(function () { refresh(editor); }).observe(textarea);
    refresh(editor);
    return editor;
  }

  function goTo(textarea, line) {
    var lines = textarea.value.split("\n");
    line = Math.max(1, Math.min(line, lines.length));
    var start = 0;
    for (var i = 0; i < line - 1; i++) start += lines[i].length + 1;
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(start, start + lines[line - 1].length);
    var lineHeight = parseFloat(getComputedStyle(textarea).lineHeight);
    textarea.scrollTop = Math.max(0, (line - 1) * lineHeight - textarea.clientHeight / 3);
    textarea.scrollIntoView({ block: "nearest" });
    var editor = setUp(textarea);
    editor.gutter.scrollTop = textarea.scrollTop;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".goto-line");
    if (!button) return;
    var textarea = document.getElementById(button.dataset.editor);
    if (textarea) goTo(textarea, parseInt(button.dataset.line, 10));
  });

  function load(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = scope.querySelectorAll("textarea[data-editor]");
    if (scope.matches && scope.matches("textarea[data-editor]")) setUp(scope);
    found.forEach(setUp);
    // A swapped-in problem list marks lines of an editor outside the swap too.
    document.querySelectorAll(".code-editor").forEach(function (box) { marks(box.editor); });
  }

  function start() {
    if (window.htmx) htmx.onLoad(load);
    else load(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
