// Connection truth, for the visitor's chat and the counsellor's dashboard alike: a banner while the live
// stream is down, and an outbox that posts what was typed in order, once each, whenever the server answers.
(function () {
  "use strict";

  function banner() {
    return document.getElementById("connection");
  }
  function words(name) {
    var element = banner();
    return element ? element.dataset[name] : "";
  }

  // The stream: htmx's SSE extension reconnects by itself; a reconnection attempt means it is down.
  var streamDown = false;
  function show(down) {
    var element = banner();
    if (!element) return;
    element.textContent = !down ? "" : navigator.onLine === false ? words("offline") : words("reconnecting");
    element.hidden = !down;
  }
  function showStream(down) {
    streamDown = down;
    show(down);
  }
  document.addEventListener("htmx:sse:before:connection", function (event) {
    var connection = event.detail && event.detail.connection;
    if (connection && connection.attempt > 0) showStream(true);
  });
  document.addEventListener("htmx:sse:error", function () { showStream(true); });
  document.addEventListener("htmx:sse:after:connection", function () {
    showStream(false);
    flush();
  });
  // Offline is said at once; back online, the banner stays only if the stream itself dropped meanwhile (a
  // short loss often leaves it open, and then nothing else would clear the banner).
  window.addEventListener("offline", function () { show(true); });
  window.addEventListener("online", function () {
    show(streamDown);
    flush();
  });
  document.addEventListener("htmx:sse:after:message", function () { if (streamDown) showStream(false); });

  // The outbox. A form with data-outbox="<list selector>" is posted from here: its message shows at once in
  // the list, marked pending until the server has stored it. Entries go one at a time, in the order typed;
  // a network failure keeps the entry (and its client_key, so the server stores it once however often it is
  // sent) at the head of the queue until the server answers; a refusal marks it failed, with Retry.
  var queue = [], busy = false, unreachable = false, timer = null, refresh = false;

  function newKey() {
    var bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function token(form) {
    var field = form.elements.csrf_token, meta = document.querySelector('meta[name="csrf-token"]');
    return field ? field.value : meta ? meta.content : "";
  }
  function setState(entry, state, detail) {
    entry.state = state;
    entry.item.dataset.outbox = state;
    entry.label.textContent = state === "failed" ? words("failed") + (detail ? ": " + detail : "") : words("pending");
    entry.retry.hidden = state !== "failed";
  }
  function placeholder(form, text) {
    var item = document.createElement("li"), speaker = document.createElement("span");
    var body = document.createElement("p"), label = document.createElement("small"), retry = document.createElement("button");
    item.className = "msg msg-" + (form.dataset.outboxSender || "visitor") + " outbox-item";
    speaker.className = "visually-hidden";
    speaker.textContent = form.dataset.outboxSpeaker || "";
    body.className = "text";
    body.textContent = text;
    label.className = "outbox-state";
    retry.type = "button";
    retry.className = "link";
    retry.textContent = words("retry");
    item.append(speaker, body, label, retry);
    var list = document.querySelector(form.dataset.outbox);
    if (list) list.appendChild(item);
    return {item: item, label: label, retry: retry};
  }
  function problem(response) {
    return response.text().then(function (text) {
      if (!(response.headers.get("content-type") || "").startsWith("text/html")) return text.trim();
      var page = new DOMParser().parseFromString(text, "text/html");
      var found = page.querySelector('[role="alert"], .error');
      return found ? found.textContent.trim() : "";
    });
  }
  function arrived(entry, id) {
    entry.item.removeAttribute("data-outbox");
    entry.label.textContent = "";
    entry.item.dataset.sentId = id || "";
    // The stream brings the stored message (perhaps already has): it takes the placeholder's place.
    if (id && document.querySelector('[data-message-id="' + id + '"]')) entry.item.remove();
  }
  // A page opened before its chat existed has no stream yet: the first message begins the chat, and it.
  function connect() {
    var stream = document.querySelector("[data-stream]");
    if (!stream || stream.hasAttribute("hx-sse:connect")) return;
    stream.setAttribute("hx-sse:connect", stream.dataset.stream);
    htmx.process(stream);
  }
  function later() {
    if (!timer) timer = setTimeout(function () { timer = null; flush(); }, 3000);
  }
  function flush() {
    if (busy || !queue.length) return;
    var entry = queue[0];
    busy = true;
    setState(entry, "sending");
    fetch(entry.action, {
      method: "POST", credentials: "same-origin",
      headers: {"X-CSRF-Token": entry.token, "HX-Request": "true"},
      body: new URLSearchParams(Object.assign({text: entry.text, client_key: entry.key}, entry.extra))
    }).then(function (response) {
      unreachable = false;
      queue.shift();
      if (response.ok) {
        arrived(entry, response.headers.get("X-Message-Id"));
        if (response.headers.get("X-Chat-Started") === "true") connect();
        refresh = refresh || response.headers.get("HX-Refresh") === "true";  // e.g. the chat's language changed
        return;
      }
      return problem(response).then(function (text) { setState(entry, "failed", text); });
    }, function () {
      unreachable = true;
      setState(entry, "pending");  // not sent, or sent with no answer: the same key goes again
      later();
    }).then(function () {
      busy = false;
      if (refresh && !queue.length) location.reload();  // once nothing typed waits, so nothing is lost
      if (!unreachable) flush();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-outbox]")) return;
    event.preventDefault();
    var box = form.elements.text, text = box.value.trim();
    if (!text) return;
    var keyField = form.elements.client_key;
    var entry = placeholder(form, text);
    entry.text = text;
    entry.key = keyField && keyField.value ? keyField.value : newKey();
    entry.extra = form.elements.time_zone ? {time_zone: form.elements.time_zone.value} : {};
    entry.action = form.action;
    entry.token = token(form);
    if (keyField) keyField.value = newKey();
    entry.retry.addEventListener("click", function () {
      queue.push(entry);
      setState(entry, "pending");
      flush();
    });
    box.value = "";
    form.querySelectorAll(".error").forEach(function (error) { error.remove(); });
    setState(entry, "pending");
    queue.push(entry);
    flush();
  });

  // A stored message arriving on the stream replaces its placeholder.
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) {
        var id = node.dataset && node.dataset.messageId;
        if (!id) return;
        var stand = document.querySelector('.outbox-item[data-sent-id="' + id + '"]');
        if (stand) stand.remove();
      });
    });
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
