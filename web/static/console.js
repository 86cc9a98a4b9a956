// The live console of a running session, one JSON event per message ({seq, ts, kind, text,
// status}); the page reloads with the result when it ends. Under `pve serve`: Server-Sent Events
// from /s/<id>/events. On the AWS stack: a WebSocket to API Gateway (data-socket, web/live.py),
// asked first for the lines after the last one the page shows (data-after).
"use strict";
(function () {
  var box = document.getElementById("console");
  var after = box ? parseInt(box.dataset.after || "0", 10) : 0;
  // Lines by number, once each: on AWS the steps run in parallel functions, each numbering its
  // own range, so lines arrive out of number order, and the backlog and a live post may overlap.
  var seen = {};
  if (box) {
    box.querySelectorAll(".line[data-seq]").forEach(function (line) {
      seen[line.dataset.seq] = true;
    });
  }
  function show(e) {
    if (seen[e.seq]) {
      return;
    }
    seen[e.seq] = true;
    var line = document.createElement("div");
    line.className = "line " + (e.status ? "st-" + e.status.split(" ")[0].toLowerCase() : "");
    line.textContent = "> " + e.text + (e.status ? " [" + e.status + "]" : "");
    box.appendChild(line);
    box.scrollTop = box.scrollHeight;
  }
  function overSocket(url) {
    var socket = new WebSocket(url);
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({action: "since", after: after}));
    });
    socket.addEventListener("message", function (message) {
      var e = JSON.parse(message.data);
      if (e.type === "console") {
        show(e);
      } else if (e.type === "done") {
        socket.close();
        window.location.reload();
      }
    });
  }
  function overEvents() {
    var source = new EventSource(box.dataset.stream);
    source.addEventListener("console", function (message) {
      show(JSON.parse(message.data));
    });
    source.addEventListener("done", function () {
      source.close();
      window.location.reload();
    });
  }
  if (box && box.dataset.live === "1") {
    // The AWS stack answers /s/<id>/live with a socket and a ticket; pve serve has no such route.
    fetch(box.dataset.socketFrom, {credentials: "same-origin"}).then(function (response) {
      return response.ok ? response.json() : null;
    }).catch(function () {
      return null;
    }).then(function (live) {
      if (live && live.socket && window.WebSocket) {
        overSocket(live.socket);
      } else if (window.EventSource) {
        overEvents();
      }
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
