// The counsellor's inbox: one conversation in view, chosen from "My chats" or with Alt+Up/Down.
(function () {
  "use strict";

  var chats = document.getElementById("chats");
  var mine = document.getElementById("mine");
  if (!chats || !mine) return;
  var opening = null;  // a chat just taken: opened, composer focused, once it arrives

  function panels() {
    return Array.prototype.slice.call(chats.querySelectorAll(".chat-panel"));
  }
  function rows() {
    return Array.prototype.slice.call(mine.querySelectorAll(".mine-row"));
  }
  function panel(id) {
    return document.getElementById("chat-" + id);
  }
  function current() {
    var id = chats.dataset.current;
    return id && panel(id) ? id : null;
  }

  // Show one chat: its panel, its row marked, its newest message in view.
  function show(id) {
    if (!id || !panel(id)) {
      var first = rows()[0] || panels()[0];
      id = first ? first.dataset.sessionId : null;
    }
    if (id) chats.dataset.current = id; else delete chats.dataset.current;
    panels().forEach(function (each) {
      each.classList.toggle("is-current", each.dataset.sessionId === id);
    });
    rows().forEach(function (row) {
      var on = row.dataset.sessionId === id;
      row.classList.toggle("is-current", on);
      var link = row.querySelector("a");
      if (on) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
    });
    var list = id && document.getElementById("messages-" + id);
    if (list) list.scrollTop = list.scrollHeight;
    document.dispatchEvent(new CustomEvent("inbox:shown", {detail: {id: id}}));
    return id;
  }

  function open(id) {
    id = show(id);
    if (!id) return;
    var url = new URL(location.href);
    url.searchParams.set("chat", id);
    history.replaceState(null, "", url);
    var box = document.getElementById("reply-" + id);
    if (box) box.focus();
  }

  mine.addEventListener("click", function (event) {
    var link = event.target.closest("[data-open-chat]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    open(link.dataset.openChat);
  });

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    var ids = rows().map(function (row) { return row.dataset.sessionId; });
    if (!ids.length) return;
    event.preventDefault();
    var at = ids.indexOf(current());
    var next = event.key === "ArrowDown" ? Math.min(at + 1, ids.length - 1) : Math.max(at - 1, 0);
    open(ids[at === -1 ? 0 : next]);
  });

  // Take: the chat opens with the composer focused once the answer has put it in place.
  document.addEventListener("submit", function (event) {
    var match = /\/agent\/sessions\/(\d+)\/take$/.exec(event.target.getAttribute("action") || "");
    if (match) opening = match[1];
    Array.prototype.forEach.call(event.target.elements, function (field) { delete drafts[field.id]; });
    // A note, transfer or close sent: its panel folds away and gives the conversation its room back.
    var panel = event.target.closest(".chat-actions details");
    if (panel) panel.open = false;
  }, true);

  // A re-render (a chat routed in, a transfer) replaces the panels: focus goes back to the element being typed in,
  // by its id, with the caret where it stood (a moved element forgets it), and the action panels keep what was
  // written in them and whether they were open.
  var focused = null, drafts = {}, opened = {};
  chats.addEventListener("focusin", function (event) { focused = event.target.id; });  // "" if it has none
  chats.addEventListener("focusout", function (event) {
    if (event.relatedTarget) focused = null;
  });
  function remember(event) {
    var field = event.target;
    if (field.id && /^(TEXTAREA|INPUT|SELECT)$/.test(field.tagName) && field.type !== "hidden") {
      drafts[field.id] = {value: field.value, start: field.selectionStart, end: field.selectionEnd};
    }
  }
  ["input", "change", "keyup", "mouseup", "select"].forEach(function (name) {
    chats.addEventListener(name, remember, true);
  });
  chats.addEventListener("toggle", function (event) {
    if (event.target.id) opened[event.target.id] = event.target.open;
  }, true);

  function restore() {
    Object.keys(opened).forEach(function (id) {
      var details = document.getElementById(id);
      if (!details) delete opened[id];
      else if (details.open !== opened[id]) details.open = opened[id];
    });
    Object.keys(drafts).forEach(function (id) {
      var field = document.getElementById(id);
      if (!field) delete drafts[id];
      else if (field.tagName === "SELECT") {
        var kept = drafts[id].value;
        if (Array.prototype.some.call(field.options, function (o) { return o.value === kept; })) field.value = kept;
      } else if (!field.value && drafts[id].value) field.value = drafts[id].value;  // a fresh, empty copy
    });
  }

  function refocus(element) {
    var draft = drafts[element.id], start = element.selectionStart, end = element.selectionEnd;
    if (draft && draft.value === element.value) {
      start = draft.start;
      end = draft.end;
    }
    element.blur();
    element.focus({preventScroll: true});  // it was in view where the counsellor left it
    if (typeof start === "number") {
      try { element.setSelectionRange(start, end); } catch (error) { /* a field without a caret */ }
    }
  }

  // Live updates re-render the chats and the list: keep the chat in view, or open the one just taken.
  new MutationObserver(function () {
    if (opening && panel(opening)) {
      var id = opening;
      opening = null;
      open(id);
      return;
    }
    show(current());
    restore();
    var active = document.activeElement;
    if (active && active !== document.body && chats.contains(active)) {
      refocus(active);  // moved by hx-preserve: Chromium shows it focused but sends it no keys until refocused
    } else if (focused !== null && (!active || active === document.body)) {
      var again = focused && document.getElementById(focused);
      if (again && chats.contains(again)) refocus(again);
      // The chat itself left (transferred, returned to the bot): on to the composer of the one now in view.
      else if ((again = document.getElementById("reply-" + current()))) again.focus();
      else document.getElementById("mine-title").focus();
    }
  }).observe(chats, {childList: true});
  new MutationObserver(function () { show(current()); }).observe(mine, {childList: true});

  // Stacked on a narrow screen, the composer sits far below the queue: focusing it on load would scroll the page
  // there (and open a phone's keyboard) before the counsellor has chosen anything.
  var stacked = window.matchMedia("(max-width: 900px)");
  document.addEventListener("DOMContentLoaded", function () {
    var id = show(current());
    if (id && document.activeElement === document.body && !stacked.matches) {
      var box = document.getElementById("reply-" + id);
      if (box) box.focus();
    }
  });
})();

// Being told: the unread count in the tab's title, a chime (which can be muted), desktop notifications while
// the tab is hidden, and chats newly given to me highlighted until opened.
(function () {
  "use strict";

  var chats = document.getElementById("chats");
  var mine = document.getElementById("mine");
  var queue = document.getElementById("queue");
  if (!chats || !mine || !queue) return;
  var title = document.title;
  var unread = {};       // chat id -> visitor messages not yet seen
  var newest = {};       // chat id -> newest message id seen
  var waiting = null;    // ids in the queue, as last seen
  var taken = {};        // chats I took myself: no highlight for those
  var fresh = {};        // chats given to me (routing, a transfer) not yet opened
  var muteButton = document.getElementById("mute");
  var notifyButton = document.getElementById("notify");
  var audio = null;

  function muted() {
    try { return localStorage.getItem("handoff-muted") === "1"; } catch (e) { return false; }
  }
  function showMute() {
    if (!muteButton) return;
    muteButton.hidden = false;
    muteButton.setAttribute("aria-pressed", muted() ? "true" : "false");
    muteButton.textContent = muted() ? muteButton.dataset.off : muteButton.dataset.on;
  }
  if (muteButton) {
    muteButton.addEventListener("click", function () {
      try { localStorage.setItem("handoff-muted", muted() ? "0" : "1"); } catch (e) { /* private mode */ }
      showMute();
    });
    showMute();
  }

  // A short two-tone chime, made here: no sound file to fetch, nothing for the CSP to allow.
  function chime() {
    if (muted()) return;
    document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
    var Context = window.AudioContext || window.webkitAudioContext;
    // Browsers refuse sound before the page's first click or key press, and warn for each attempt.
    var woken = !navigator.userActivation || navigator.userActivation.hasBeenActive;
    if (!Context || !woken) return;
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") audio.resume();
      [880, 1320].forEach(function (pitch, i) {
        var tone = audio.createOscillator(), gain = audio.createGain(), at = audio.currentTime + i * 0.15;
        tone.frequency.value = pitch;
        gain.gain.setValueAtTime(0.15, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + 0.3);
        tone.connect(gain).connect(audio.destination);
        tone.start(at);
        tone.stop(at + 0.3);
      });
    } catch (e) { /* no audio device: the title and the list still tell */ }
  }

  function canNotify() {
    return "Notification" in window && Notification.permission === "granted";
  }
  function showNotifyButton() {
    if (notifyButton) notifyButton.hidden = !("Notification" in window) || Notification.permission !== "default";
  }
  if (notifyButton) {
    notifyButton.addEventListener("click", function () {
      var asked = Notification.requestPermission(showNotifyButton);
      if (asked && asked.then) asked.then(showNotifyButton);
    });
    showNotifyButton();
  }

  function tell(text, body, chatId) {
    chime();
    if (!document.hidden || !canNotify()) return;
    var note = new Notification(text, {body: body || "", tag: "handoff-" + (chatId || "queue")});
    note.onclick = function () {
      window.focus();
      var link = chatId && mine.querySelector('[data-open-chat="' + chatId + '"]');
      if (link) link.click();
    };
  }

  function inView(id) {
    return !document.hidden && chats.dataset.current === String(id);
  }

  function paint() {
    var total = queue.querySelectorAll("[data-session-id]").length;
    mine.querySelectorAll(".mine-row").forEach(function (row) {
      var id = row.dataset.sessionId, count = unread[id] || 0;
      total += count;
      var badge = row.querySelector(".unread"), text = count ? String(count) : "";
      if (badge && badge.textContent !== text) {  // unchanged: no write, or the observer below would loop
        badge.textContent = text;
        badge.setAttribute("aria-label", count + " unread");
      }
      row.classList.toggle("is-new", !!fresh[id]);
    });
    document.title = total ? "(" + total + ") " + title : title;
  }

  function look(first) {
    // The queue: a new waiting chat chimes.
    var now = {};
    queue.querySelectorAll("[data-session-id]").forEach(function (row) {
      var id = row.dataset.sessionId;
      now[id] = true;
      if (waiting && !waiting[id]) {
        var preview = row.querySelector(".preview");
        tell("Visitor #" + id + " is waiting", preview ? preview.textContent : "", null);
      }
    });
    waiting = now;
    // My chats: new ones (assigned or transferred to me) are highlighted; new visitor messages counted.
    var open = {};
    mine.querySelectorAll(".mine-row").forEach(function (row) {
      var id = row.dataset.sessionId;
      open[id] = true;
      if (!(id in newest)) {
        unread[id] = first || !taken[id] ? Number(row.dataset.unread || 0) : 0;
        if (!first && !taken[id]) {
          fresh[id] = true;
          var link = row.querySelector(".preview");
          tell("Visitor #" + id + " is now yours", link ? link.textContent : "", id);
        }
        newest[id] = 0;
      }
    });
    chats.querySelectorAll(".transcript").forEach(function (list) {
      var id = list.id.replace("messages-", "");
      if (!open[id]) return;
      var known = newest[id] || 0, top = known, latest = null;
      list.querySelectorAll(".msg[data-message-id]").forEach(function (message) {
        var messageId = Number(message.dataset.messageId);
        if (messageId <= known) return;
        top = Math.max(top, messageId);
        if (!message.classList.contains("msg-internal") && /^(visitor|agent|bot)$/.test(message.dataset.sender)) {
          latest = message;
        }
        if (known && message.dataset.sender === "visitor" && !inView(id)) {
          unread[id] = (unread[id] || 0) + 1;
          var text = message.querySelector(".text");
          tell("Visitor #" + id, text ? text.textContent : "", id);
        }
      });
      newest[id] = top;
      // "My chats" is drawn again only when the chats change: its preview and wait follow the messages here.
      var row = known && latest && mine.querySelector('.mine-row[data-session-id="' + id + '"]');
      if (row) {
        var preview = row.querySelector(".preview"), text = latest.querySelector(".text").textContent;
        if (preview) preview.textContent = text.length > 70 ? text.slice(0, 67) + "..." : text;
        var waited = row.querySelector(".waited");
        if (waited && latest.dataset.sender === "agent") waited.remove();
      }
    });
    Object.keys(newest).forEach(function (id) {
      if (!open[id]) { delete newest[id]; delete unread[id]; delete fresh[id]; }
    });
    seen(chats.dataset.current);
  }

  function seen(id) {
    if (id && !document.hidden) {
      unread[id] = 0;
      delete fresh[id];
    }
    paint();
  }

  document.addEventListener("submit", function (event) {
    var match = /\/agent\/sessions\/(\d+)\/take$/.exec(event.target.getAttribute("action") || "");
    if (match) taken[match[1]] = true;
  }, true);
  document.addEventListener("inbox:shown", function (event) { seen(event.detail.id); });
  document.addEventListener("visibilitychange", function () { seen(chats.dataset.current); });
  var pending = false;
  new MutationObserver(function () {
    if (pending) return;
    pending = true;
    queueMicrotask(function () { pending = false; look(false); });
  }).observe(document.querySelector(".console"), {childList: true, subtree: true});
  document.addEventListener("DOMContentLoaded", function () { look(true); });

  // A notice ("Visitor #41 ended the chat.") is news of the moment: it clears itself after a while, unless
  // another one has taken its place.
  var alertBox = document.getElementById("alert"), clearing = null;
  if (alertBox) new MutationObserver(function () {
    clearTimeout(clearing);
    if (alertBox.textContent.trim()) clearing = setTimeout(function () { alertBox.textContent = ""; }, 30000);
  }).observe(alertBox, {childList: true, subtree: true, characterData: true});
})();
