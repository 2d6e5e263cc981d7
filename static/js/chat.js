// The visitor's chat page: the newest message kept in view, focus after the chat ends, the leave-a-message
// form kept open across status updates, and, inside widget.js's frame, talk with the host page.
(function () {
  "use strict";

  var list = document.getElementById("messages");
  var status = document.getElementById("status");
  if (!list || !status) return;

  // The browser's time zone goes with the first message or handoff, so counsellors see the visitor's local
  // time. Filled as a form is sent (capture: before htmx or the outbox read it), since forms are redrawn.
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { zone = ""; }
  document.addEventListener("submit", function (event) {
    var field = event.target.elements && event.target.elements.time_zone;
    if (field) field.value = zone;
  }, true);

  // Messages carry their time in UTC; the visitor reads it on their own clock, written the way of the page's
  // language (a Spanish page says 14:05 where an American browser would say 02:05 PM), or of the browser's own
  // locale when that is a form of the same language (en-GB's 14:05 on an English page).
  var clock = {hour: "2-digit", minute: "2-digit"};
  var page = document.documentElement.lang || "";
  var tongue = !page || (navigator.language || "").split("-")[0] === page.split("-")[0] ? [] : page;
  function written(at) {
    try { return at.toLocaleTimeString(tongue, clock); }
    catch (error) { return at.toLocaleTimeString([], clock); }  // a tag the browser does not know
  }
  function localise(root) {
    root.querySelectorAll("time[datetime]").forEach(function (time) {
      var at = new Date(time.getAttribute("datetime"));
      if (!isNaN(at)) time.textContent = written(at);
    });
  }
  localise(list);
  new MutationObserver(function (records) {
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) { if (node.querySelectorAll) localise(node); });
    });
  }).observe(list, {childList: true});

  // Whatever grows below the messages (the status line, a notice, the keyboard on a phone) shrinks the list:
  // a reader at the bottom stays at the bottom.
  new ResizeObserver(function () {
    if (list.dataset.pinned !== "0") list.scrollTop = list.scrollHeight;
    list.dataset.height = list.clientHeight;
  }).observe(list);

  // The status line is redrawn on every queue move: the leave-a-message form stays as the visitor left it.
  // The visitor's click says so, not the toggle event: that comes a task later, and a redraw in between
  // leaves it firing on a form no longer in the page.
  var followupOpen = false;
  document.addEventListener("click", function (event) {
    var summary = event.target.closest && event.target.closest("#followup > summary");
    if (!summary) return;
    followupOpen = !summary.parentNode.open;
    // Only the visitor's own opening moves focus: a redraw reopens the form while they may be typing the message.
    if (followupOpen) setTimeout(function () {
      var followup = document.getElementById("followup"), email = document.getElementById("followup-email");
      if (followup && !followup.open) followup.open = true;
      if (email) email.focus();
    });
  }, true);

  var endedShown = document.getElementById("chat-ended"), usedStatus = false;
  status.addEventListener("focusin", function () { usedStatus = true; });
  status.addEventListener("focusout", function (event) { if (event.relatedTarget) usedStatus = false; });
  new MutationObserver(function () {
    var followup = document.getElementById("followup");
    if (followup && followupOpen && !followup.open) followup.open = true;
    // The chat has just ended and the composer gave way: focus goes to the news rather than to nowhere.
    var ended = document.getElementById("chat-ended"), active = document.activeElement;
    var lost = !active || active === document.body;
    if (ended && !endedShown && (lost || active.closest(".composer"))) ended.focus();
    // A button of the status line ("Talk to a human", a rating) was redrawn away under the keyboard: focus goes
    // on to the composer, or to the news of the ended chat.
    else if (lost && usedStatus) {
      // (the composer is hidden once the chat has ended: focus on a hidden box falls back to the page)
      var box = document.getElementById("message");
      var next = box && box.offsetParent !== null && !box.disabled ? box : ended;
      if (next) next.focus();
    }
    endedShown = ended;
  }).observe(status, {childList: true, subtree: true});

  // Embedded by widget.js: the host page says where the chat is and whether its panel is open; the chat
  // tells it how many replies arrived while the panel was closed. Only the embedding sites (and this server)
  // are listened to.
  var allowed = (document.querySelector(".chat-window").dataset.embedOrigins || "").split(" ").filter(Boolean);
  allowed.push(location.origin);
  var host = null, open = true, unread = 0;

  function tell(message) {
    if (host) host.source.postMessage(Object.assign({handoff: true}, message), host.origin);
  }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== window.parent || allowed.indexOf(event.origin) === -1 || !data || data.handoff !== true) return;
    if (data.type === "host") {
      var first = host === null;
      host = {source: event.source, origin: event.origin};
      if (first && /^https?:/.test(data.url || "")) {
        var meta = document.querySelector('meta[name="csrf-token"]');
        fetch("/chat/page", {method: "POST", credentials: "same-origin",
                             headers: {"X-CSRF-Token": meta ? meta.content : ""},
                             body: new URLSearchParams({url: String(data.url).slice(0, 500),
                                                        title: String(data.title || "").slice(0, 200)})});
      }
    }
    if (data.type === "host" || data.type === "open") {
      open = !!data.open;
      if (open) {
        unread = 0;
        tell({type: "unread", count: 0});
        var box = document.getElementById("message");
        if (box && data.type === "open") box.focus();
        list.scrollTop = list.scrollHeight;
      }
    }
  });
  // Keys typed in the frame never reach the host page: Escape, which closes the panel, is passed on.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !event.defaultPrevented && open) tell({type: "escape"});
  });
  new MutationObserver(function (records) {
    if (open || !host) return;
    records.forEach(function (record) {
      record.addedNodes.forEach(function (node) {
        if (node.dataset && node.dataset.messageId && node.dataset.sender !== "visitor") unread += 1;
      });
    });
    tell({type: "unread", count: unread});
  }).observe(list, {childList: true});
})();
