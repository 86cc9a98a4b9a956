// The live console of a running session: Server-Sent Events from /s/<id>/events, one JSON event
// per message ({seq, ts, kind, text, status}); the page reloads with the result when it ends.
"use strict";
(function () {
  var box = document.getElementById("console");
  if (box && box.dataset.live === "1" && window.EventSource) {
    var source = new EventSource(box.dataset.stream);
    source.addEventListener("console", function (message) {
      var e = JSON.parse(message.data);
      var line = document.createElement("div");
      line.className = "line " + (e.status ? "st-" + e.status.split(" ")[0].toLowerCase() : "");
      line.textContent = "> " + e.text + (e.status ? " [" + e.status + "]" : "");
      box.appendChild(line);
      box.scrollTop = box.scrollHeight;
    });
    source.addEventListener("done", function () {
      source.close();
      window.location.reload();
    });
  }
  var copy = document.getElementById("copy-fix");
  if (copy && navigator.clipboard) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(document.getElementById("fix-text").value).then(function () {
        copy.textContent = "Copied";
      });
    });
  }
})();
