// The playground's enhancements over its plain form (web/playground.py):
// - Monaco (served from /static/monaco/vs, the AMD build) over the code field, which it keeps in
//   sync for the form; without it the textarea stays and everything below still works;
// - smart paste: a paste that holds a traceback puts the traceback in the error field and only
//   the code in the editor;
// - as you type (debounced): POST /playground/check for pyflakes' marks (squiggles with hover
//   messages in Monaco, and a list under the editor) and the import badges.
"use strict";
(function () {
  var form = document.getElementById("playground");
  if (!form) return;
  var code = document.getElementById("code");
  var error = document.getElementById("error");
  var lintList = document.getElementById("lint");
  var badges = document.getElementById("libraries");
  var editor = null;
  var timer = null;
  var asked = 0;

  var TRACEBACK = /^[ \t]*(?:[A-Za-z_][\w.]*[ \t]+)?Traceback \(most recent call last\):?[ \t]*$/m;
  var IPYTHON_LINE = /^(?:Cell In ?\[|File ~|File \S+:\d+, in |<ipython-input-|-*-> ?\d+|\S+\.pyw? in \S|-{10,}$)/;
  var PROMPT = /^(?:>>>|\.\.\.|In \[\d*\]:|\s+\.\.\.:)(?: |$)/;  // python's and IPython's
  var COMMAND = /^[ \t]*(?:\$|%|>|PS [^>\n]*>|[\w@.~:\/-]+[$#%>])[ \t]*(?:python3?(?:\.\d+)?|py)[ \t]+(?:-u[ \t]+)?(\S+\.py)\b([^\n]*)$/;
  var EXCEPTION_LINE = /^[ \t]*[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Iteration)\b.*$|^[ \t]*[A-Za-z_][\w.]*:\s.*$/;

  // The same split as web/playground.py's split_paste: the traceback runs from its header to
  // its exception line (chained tracebacks included); what follows is code again.
  function splitPaste(text) {
    var m = TRACEBACK.exec(text);
    if (!m) return null;
    var start = m.index;
    var before = text.slice(0, m.index).replace(/\n+$/, "");
    var cut = before.lastIndexOf("\n");
    var above = before.slice(cut + 1);
    // the command that ran it (or IPython's rule above its header) goes with it
    if (COMMAND.test(above) || /^-{10,}$/.test(above.trim())) start = cut + 1;
    var lines = text.slice(m.index).split(/(?<=\n)/);
    var end = lines.length;
    for (var n = 1; n < lines.length; n++) {
      var line = lines[n];
      if (line.trim() && !/^\s/.test(line) && !IPYTHON_LINE.test(line) && !TRACEBACK.test(line.replace(/\n$/, "")) &&
          !/^(During handling|The above exception)/.test(line)) {
        if (EXCEPTION_LINE.test(line.replace(/\n$/, ""))) { end = n + 1; continue; }
        if (end === lines.length) end = n;
        break;
      }
    }
    return { code: transcriptCode((text.slice(0, start) + lines.slice(end).join("")).replace(/^\n+|\n+$/g, "")) + "\n",
             traceback: (text.slice(start, m.index) + lines.slice(0, end).join("")).replace(/^\n+|\n+$/g, "") + "\n" };
  }

  // The same as web/playground.py's transcript_code: a pasted >>> session as the code it ran.
  function transcriptCode(code) {
    var lines = code.split("\n");
    if (!lines.some(function (x) { return /^(?:>>>|In \[\d*\]:) /.test(x); })) return code;
    return lines.filter(function (x) { return PROMPT.test(x); })
      .map(function (x) { return x.slice(PROMPT.exec(x)[0].length); }).join("\n").replace(/^\n+|\n+$/g, "");
  }

  function value() { return editor ? editor.getValue() : code.value; }

  function onPaste(event, insert) {
    var text = (event.clipboardData || window.clipboardData).getData("text");
    var parts = splitPaste(text || "");
    if (!parts) return;
    event.preventDefault();
    event.stopPropagation();
    error.value = parts.traceback;
    insert(parts.code);
    error.classList.add("filled");
    schedule();
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, 400);
  }

  function check() {
    var mine = ++asked;
    fetch("/playground/check", { method: "POST", headers: { "Content-Type": "application/json" },
                                 body: JSON.stringify({ code: value() }) })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) { if (answer && mine === asked) show(answer); })
      .catch(function () {});
  }

  function show(answer) {
    lintList.textContent = "";
    answer.marks.forEach(function (m) {
      var li = document.createElement("li");
      li.className = "mark " + m.severity;
      li.textContent = "Line " + m.line + ": " + m.message;
      lintList.appendChild(li);
    });
    badges.textContent = "";
    answer.libraries.forEach(function (lib) {
      var b = document.createElement("span");
      b.className = "badge " + (lib.available ? "ok" : lib.available === null ? "" : "missing");
      b.textContent = lib.module + (lib.available === null ? "" : lib.available ? " · " + (lib.source === "standard library"
        ? "standard library (Python " + lib.version + ")" : lib.source + " " + lib.version) : " · not available");
      badges.appendChild(b);
    });
    if (editor && window.monaco) {
      window.monaco.editor.setModelMarkers(editor.getModel(), "pve", answer.marks.map(function (m) {
        return { startLineNumber: m.line, startColumn: m.col + 1, endLineNumber: m.line,
                 endColumn: m.col + 2 + Math.max(0, (editor.getModel().getLineLength(m.line) || 0) - m.col - 1),
                 message: m.message,
                 severity: m.severity === "error" ? window.monaco.MarkerSeverity.Error : window.monaco.MarkerSeverity.Warning };
      }));
    }
  }

  // Without Monaco (or until it loads): the textarea.
  code.addEventListener("paste", function (event) {
    onPaste(event, function (text) {
      var start = code.selectionStart, end = code.selectionEnd;
      code.value = code.value.slice(0, start) + text + code.value.slice(end);
    });
  });
  code.addEventListener("input", schedule);

  if (window.require && window.require.config && form.dataset.worker) {
    window.require.config({ paths: { vs: "/static/monaco/vs" } });
    window.MonacoEnvironment = {
      getWorker: function () { return new Worker(form.dataset.worker, { type: "module" }); }
    };
    window.require(["vs/editor/editor.main"], function () {
      var box = document.getElementById("editor");
      box.hidden = false;
      editor = window.monaco.editor.create(box, {
        value: code.value, language: "python", lineNumbers: "on", minimap: { enabled: false },
        automaticLayout: true, scrollBeyondLastLine: false, fontSize: 14, ariaLabel: "Code",
        tabSize: 4, insertSpaces: true
      });
      code.hidden = true;
      code.removeAttribute("required");
      editor.onDidChangeModelContent(function () { code.value = editor.getValue(); schedule(); });
      box.addEventListener("paste", function (event) {
        onPaste(event, function (text) {
          editor.executeEdits("smart-paste", [{ range: editor.getSelection(), text: text, forceMoveMarkers: true }]);
          code.value = editor.getValue();
        });
      }, true);
      form.addEventListener("submit", function () { code.value = editor.getValue(); });
      window.pveEditor = editor;  // for the browser tests
      if (code.value) schedule();
    });
  }
  if (code.value) schedule();
})();
